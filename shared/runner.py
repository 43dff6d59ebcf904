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

from shared import metrics
from shared.busaccess import service_login_uri
from shared.config import Settings, env, nameko_config
from shared.keys import keys_of, refuse_development_keys
from shared.logs import configure_logging
from shared.messaging import DEAD_LETTER_QUEUE
from shared.topology import SUBSCRIPTIONS

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
    service_cls = load(SERVICES.get(args[0], args[0]))
    name = getattr(service_cls, "name", args[0])
    refuse_development_keys(keys_of(name), f"onetrip-service {name}")
    # Everything in this process that reaches the broker (nameko, the relay, dead-lettering)
    # logs in as the service's own bus user.
    os.environ["AMQP_URI"] = service_login_uri(env("AMQP_URI"), name)
    settings = Settings()
    configure_logging(settings.log_level, settings.log_format, service=name)
    metrics.watch_queues(settings.amqp_uri, queues_of(name))
    if name != "gateway":  # the gateway answers GET /metrics itself
        metrics.serve(settings.metrics_port, settings.metrics_host)
    run([service_cls], nameko_config(name, settings))


def queues_of(service: str) -> list[str]:
    """The queues whose depth a service's metrics show: its RPC queue, those it consumes,
    and the dead-letter queue where any consumer's refusals wait."""
    consumed = [s.queue_name for s in SUBSCRIPTIONS if s.consumer == service]
    return [f"rpc-{service}", *consumed, DEAD_LETTER_QUEUE.name]


if __name__ == "__main__":
    main()
