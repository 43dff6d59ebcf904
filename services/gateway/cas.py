"""Campus single sign-on over CAS 3.0 (what many universities' 统一身份认证 run): the browser
goes to the CAS server's ``/login?service=`` and comes back with a service ticket, which the
gateway validates at ``/p3/serviceValidate`` (server to server; the XML read with defusedxml)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import requests
from defusedxml import DefusedXmlException, ElementTree

from services.gateway.sso import HTTP_SECONDS, Person, SsoRefusedError, valid_username
from shared.config import env
from shared.departments import department_code

CAS_NAMESPACE = {"cas": "http://www.yale.edu/tp/cas"}
CAS_CALLBACK_PATH = "/login/cas/callback"


@dataclass(frozen=True)
class CasSettings:
    server: str
    label: str
    name_attribute: str
    department_attribute: str
    service_url: str

    @classmethod
    def from_env(cls) -> CasSettings | None:
        """The CAS server named by ``ONETRIP_CAS_URL``; None when unset (no CAS button)."""
        server = env("ONETRIP_CAS_URL").strip().rstrip("/")
        if not server:
            return None
        return cls(server, env("ONETRIP_CAS_LABEL"), env("ONETRIP_CAS_NAME_ATTRIBUTE"),
                   env("ONETRIP_CAS_DEPARTMENT_ATTRIBUTE"), env("ONETRIP_CAS_SERVICE_URL"))


class CasClient:
    """CAS 3.0: the browser goes to ``/login?service=``, comes back with a service ticket,
    which the gateway validates at ``/p3/serviceValidate`` (server-to-server)."""

    def __init__(self, settings: CasSettings) -> None:
        self.settings = settings

    def login_url(self, service: str) -> str:
        return f"{self.settings.server}/login?{urlencode({'service': service})}"

    def validate(self, service: str, ticket: str) -> Person:
        if not ticket:
            raise SsoRefusedError("统一身份认证没有给出登录票据(ticket),请重新登录")
        query = urlencode({"service": service, "ticket": ticket})
        try:
            reply = requests.get(f"{self.settings.server}/p3/serviceValidate?{query}",
                                 timeout=HTTP_SECONDS)
            reply.raise_for_status()
            answer = ElementTree.fromstring(reply.content)
        except (requests.RequestException, ElementTree.ParseError, DefusedXmlException) as exc:
            raise SsoRefusedError("暂时连不上统一身份认证,请稍后再试或使用本地账号登录") from exc
        return self._person(answer)

    def _person(self, answer: Any) -> Person:
        success = answer.find("cas:authenticationSuccess", CAS_NAMESPACE)
        if success is None:
            failure = answer.find("cas:authenticationFailure", CAS_NAMESPACE)
            code = failure.get("code", "") if failure is not None else ""
            raise SsoRefusedError(
                f"统一身份认证不认可此次登录的票据(已使用过或已过期;{code}),请重新登录"
            )
        user = (success.findtext("cas:user", "", CAS_NAMESPACE) or "").strip()
        if not valid_username(user):
            raise SsoRefusedError("统一身份认证给出的用户名无法用作本站账号名,请联系管理员")

        def attribute(name: str) -> str:
            return (success.findtext(f"cas:attributes/cas:{name}", "", CAS_NAMESPACE) or "").strip()

        department = attribute(self.settings.department_attribute)
        return Person(subject=user, username=user,
                      name=(attribute(self.settings.name_attribute) or user)[:50],
                      department=department_code(department) or "" if department else "",
                      email=None)
