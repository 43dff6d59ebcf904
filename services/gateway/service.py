"""The HTTP gateway: the public API of ../shared/contract/http-api.md over nameko RPC."""
from __future__ import annotations

import time
from typing import Any

import eventlet
from nameko.exceptions import RemoteError, UnknownService
from nameko.rpc import RpcProxy
from werkzeug.wrappers import Request, Response

from services.gateway import openapi
from services.gateway.http import api, json_response

BACKENDS = ("catalogue", "approval", "notify", "audit")
HEALTH_TIMEOUT_SECONDS = 3.0


class GatewayService:
    name = "gateway"

    catalogue = RpcProxy("catalogue")
    approval = RpcProxy("approval")
    notify = RpcProxy("notify")
    audit = RpcProxy("audit")

    @api("GET", "/healthz", summary="Health of every service", public=True, tags=["health"])
    def healthz(self, request: Request) -> Response:
        calls = {name: self._ask_health(name) for name in BACKENDS}
        deadline = time.monotonic() + HEALTH_TIMEOUT_SECONDS
        services = {name: self._health_of(reply, deadline) for name, reply in calls.items()}
        healthy = all(state == "ok" for state in services.values())
        return json_response(
            {"status": "ok" if healthy else "unavailable", "services": services},
            status=200 if healthy else 503,
        )

    def _ask_health(self, name: str) -> Any:
        try:
            return getattr(self, name).health.call_async()
        except (UnknownService, OSError):
            return None

    @staticmethod
    def _health_of(reply: Any, deadline: float) -> str:
        if reply is None:
            return "unavailable"
        try:
            with eventlet.Timeout(max(deadline - time.monotonic(), 0.01)):
                reply.result()
            return "ok"
        except (eventlet.Timeout, RemoteError, UnknownService, OSError):
            return "unavailable"

    @api("GET", "/api/v1/openapi.json", summary="This document", public=True, tags=["meta"])
    def openapi_document(self, request: Request) -> Response:
        return json_response(openapi.document())
