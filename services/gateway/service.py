"""The HTTP gateway: the public API of ../shared/contract/http-api.md over nameko RPC."""
from __future__ import annotations

import time
from typing import Any

import eventlet
from nameko.exceptions import RemoteError, UnknownService
from werkzeug.wrappers import Request, Response

from services.gateway import openapi
from services.gateway.case_routes import CaseRoutes
from services.gateway.catalogue_routes import CatalogueRoutes
from services.gateway.doors import client_address
from services.gateway.files import Files, FileStore
from services.gateway.http import api, json_response, parse_body
from services.gateway.idempotency import Idempotency, IdempotentCommands
from services.gateway.identity import Identity, IdentityStore
from services.gateway.models import (
    DepartmentList,
    Health,
    SessionRequest,
    SessionView,
    UserView,
)
from services.gateway.signon import SingleSignOn, SingleSignOnSettings
from services.gateway.sso_routes import SsoRoutes
from services.gateway.supervision_routes import SupervisionRoutes
from services.gateway.web.pages import PageRoutes
from shared import asyncapi, metrics
from shared.asyncapi import broker_address
from shared.caller import SignedRpcProxy
from shared.config import env
from shared.departments import DEPARTMENTS
from shared.dependencies import Correlated
from shared.errors import NotFoundError
from shared.rpc import rpc

BACKENDS = ("catalogue", "approval", "notify", "audit")
HEALTH_TIMEOUT_SECONDS = 3.0


class GatewayService(CatalogueRoutes, CaseRoutes, PageRoutes, SupervisionRoutes, SsoRoutes):
    name = "gateway"

    catalogue = SignedRpcProxy("catalogue")
    approval = SignedRpcProxy("approval")
    notify = SignedRpcProxy("notify")
    audit = SignedRpcProxy("audit")
    identity: Identity = IdentityStore()  # type: ignore[assignment]
    files: FileStore = Files()  # type: ignore[assignment]
    idempotency: IdempotentCommands = Idempotency()  # type: ignore[assignment]
    correlated = Correlated()
    sso: SingleSignOn = SingleSignOnSettings()  # type: ignore[assignment]

    @api("GET", "/healthz", summary="各服务是否在总线上应答(全部应答为 200,否则 503)",
         response=Health, answers={503: Health}, public=True, tags=["health"])
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

    @api("GET", "/api/v1/openapi.json", summary="本文档", public=True, tags=["meta"], asks=False)
    def openapi_document(self, request: Request) -> Response:
        return json_response(openapi.document())

    @api("GET", "/metrics", summary="运行指标（Prometheus 文本格式）", public=True,
         tags=["meta"], asks=False, content_type="text/plain")
    def metrics_text(self, request: Request) -> Response:
        return Response(metrics.exposition(), content_type=metrics.CONTENT_TYPE)

    @api("GET", "/api/v1/asyncapi.json", summary="事件契约（AsyncAPI 3.0）：总线上发布的每个事件",
         public=True, tags=["meta"], asks=False)
    def asyncapi_document(self, request: Request) -> Response:
        return json_response(asyncapi.document(broker_address(env("AMQP_URI"))))

    # -- Session -------------------------------------------------------------------

    @api("POST", "/api/v1/session", summary="登录,取得令牌", body=SessionRequest,
         response=SessionView, public=True, tags=["session"], errors=(401, 429), asks=False)
    def create_session(self, request: Request) -> Response:
        credentials = parse_body(request, SessionRequest)
        token, user = self.identity.login(
            credentials.username, credentials.password, client_address(request.environ)
        )
        return json_response({"token": token, "user": user.as_actor()})

    @api("GET", "/api/v1/me", summary="当前登录的用户", response=UserView, tags=["session"],
         asks=False)
    def me(self, request: Request) -> Response:
        return json_response(self._user(request).as_actor())

    @api("GET", "/api/v1/departments", summary="部门列表", response=DepartmentList,
         public=True, tags=["session"], asks=False)
    def departments(self, request: Request) -> Response:
        listed = [{"code": code, "name": name} for code, name in DEPARTMENTS.items()]
        return json_response({"departments": listed})

    # -- the directory, for the other services ----------------------------------------

    @rpc
    def contact(self, username: str) -> dict[str, Any]:
        found = self.identity.accounts.contact(username)
        if found is None:
            raise NotFoundError(f"没有这个账号: {username}")
        return found

    @rpc
    def department_members(self, department: str, role: str | None = None) -> list[str]:
        return self.identity.accounts.department_members(department, role)
