"""Runs one onetrip service: ``onetrip-service approval``.

One composition root per process: the eventlet monkey patch and psycopg's wait
function are set here before anything opens a connection.
"""
from __future__ import annotations

import os
import sys

os.environ.setdefault("PSYCOPG_WAIT_FUNC", "wait_select")  # psycopg's C wait blocks eventlet

import eventlet

eventlet.monkey_patch()

import importlib

from nameko.cli.run import run

from shared.config import env, nameko_config
from shared.logs import configure_logging

SERVICES = {
    "catalogue": "services.catalogue.service:CatalogueService",
    "approval": "services.approval.service:ApprovalService",
    "notify": "services.notify.service:NotifyService",
    "audit": "services.audit.service:AuditService",
    "gateway": "services.gateway.service:GatewayService",
}


def load(path: str) -> type:
    module_name, _, class_name = path.partition(":")
    return getattr(importlib.import_module(module_name), class_name)  # type: ignore[no-any-return]


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        sys.exit(f"usage: onetrip-service {{{'|'.join(SERVICES)}|module:Class}}")
    name = args[0]
    service_cls = load(SERVICES.get(name, name))
    configure_logging(env("ONETRIP_LOG_LEVEL"))
    run([service_cls], nameko_config(getattr(service_cls, "name", name)))


if __name__ == "__main__":
    main()
