"""The administrator's side of campus single sign-on: which account a subject signs in as."""

from __future__ import annotations

from pydantic import BaseModel
from werkzeug.wrappers import Request, Response

from services.gateway.auth import User, require_roles
from services.gateway.base import Gateway
from services.gateway.http import api, json_response, parse_body
from services.gateway.models import Username
from services.gateway.signon import SingleSignOn
from services.gateway.sso import (
    SsoAccounts,
)
from shared.inputs import Admitted
from shared.roles import ADMIN

TAGS = ["sso"]


class SubjectLinkRequest(Admitted):
    username: Username


class SubjectLinkView(BaseModel):
    issuer: str
    subject: str
    username: str | None


class SsoRoutes(Gateway):
    sso: SingleSignOn

    @api("PUT", "/api/v1/sso/subjects/<string(maxlength=255):subject>",
         summary="将统一身份认证账号(subject)关联到本站账号(管理员)", body=SubjectLinkRequest,
         response=SubjectLinkView, tags=TAGS, errors=(409,), asks=False)
    def link_sso_subject(self, request: Request, subject: str) -> Response:
        admin = self._admin(request)
        issuer = self.sso.issuer()
        username = parse_body(request, SubjectLinkRequest).username
        self._accounts().link(issuer, subject, username, admin.username)
        return json_response({"issuer": issuer, "subject": subject, "username": username})

    @api("DELETE", "/api/v1/sso/subjects/<string(maxlength=255):subject>",
         summary="解除统一身份认证账号(subject)与本站账号的关联(管理员)",
         response=SubjectLinkView, tags=TAGS, asks=False)
    def unlink_sso_subject(self, request: Request, subject: str) -> Response:
        admin = self._admin(request)
        issuer = self.sso.issuer()
        self._accounts().unlink(issuer, subject, admin.username)
        return json_response({"issuer": issuer, "subject": subject, "username": None})

    def _admin(self, request: Request) -> User:
        return require_roles(self._user(request), ADMIN)

    def _accounts(self) -> SsoAccounts:
        return SsoAccounts(self.identity.accounts)
