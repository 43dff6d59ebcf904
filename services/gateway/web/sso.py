"""Signing in through the campus single sign-on (统一身份认证): out to the provider and back,
then the same session cookie, CSRF binding and ``next=`` rules as the login page."""

from __future__ import annotations

from collections.abc import Callable

from werkzeug.wrappers import Request, Response

from services.gateway.cas import CAS_CALLBACK_PATH
from services.gateway.signon import SingleSignOn, sso_buttons
from services.gateway.sso import (
    CALLBACK_PATH,
    PENDING_COOKIE,
    PENDING_SECONDS,
    Pending,
    Person,
    SsoAccounts,
    SsoRefusedError,
    person_of,
)
from services.gateway.web.core import TEMPLATES, Pages, page
from services.gateway.web.public import home_of, safe_next

TEMPLATES.globals["sso_buttons"] = sso_buttons


class SsoPages(Pages):
    sso: SingleSignOn

    @page("GET", "/login/oidc")
    def page_login_oidc(self, request: Request) -> Response:
        oidc = self.sso.oidc_client()
        visit = self._visit(request)
        target = safe_next(request.args.get("next")) or ""
        try:
            location, pending = oidc.begin(self._callback_url(request), target)
        except SsoRefusedError as exc:
            return visit.render("login.html", status=503, next=target, error=exc.detail)
        visit.new_cookies[PENDING_COOKIE] = (pending.sealed(), PENDING_SECONDS)
        return visit.redirect(location)

    @page("GET", CALLBACK_PATH)
    def page_login_oidc_callback(self, request: Request) -> Response:
        oidc = self.sso.oidc_client()

        def identify(pending: Pending) -> tuple[str, Person]:
            claims = oidc.finish(self._callback_url(request), request.args, pending)
            return oidc.settings.issuer, person_of(claims, oidc.settings)

        return self._finish(request, identify)

    def _callback_url(self, request: Request) -> str:
        configured = self.sso.oidc_client().settings.redirect_uri
        return configured or request.host_url.rstrip("/") + CALLBACK_PATH

    @page("GET", "/login/cas")
    def page_login_cas(self, request: Request) -> Response:
        cas = self.sso.cas_client()
        visit = self._visit(request)
        pending = Pending.fresh(safe_next(request.args.get("next")) or "")
        visit.new_cookies[PENDING_COOKIE] = (pending.sealed(), PENDING_SECONDS)
        return visit.redirect(cas.login_url(self._cas_service(request)))

    @page("GET", CAS_CALLBACK_PATH)
    def page_login_cas_callback(self, request: Request) -> Response:
        cas = self.sso.cas_client()

        def identify(pending: Pending) -> tuple[str, Person]:
            ticket = request.args.get("ticket", "")
            return cas.settings.server, cas.validate(self._cas_service(request), ticket)

        return self._finish(request, identify)

    def _finish(self, request: Request, identify: Callable[[Pending], tuple[str, Person]]) -> Response:
        """Signs in the person the provider vouches for, once: only a login this browser
        started here is finished (no login CSRF), and its cookie is spent either way."""
        visit = self._visit(request)
        visit.new_cookies[PENDING_COOKIE] = ("", 0)
        try:
            pending = Pending.unsealed(request.cookies.get(PENDING_COOKIE, ""))
            issuer, person = identify(pending)
            user = SsoAccounts(self.identity.accounts).sign_in(issuer, person)
        except SsoRefusedError as exc:
            return visit.render("login.html", status=exc.status, next="", error=exc.detail)
        visit.sign_in(self.identity.sign_in(user))
        return visit.redirect(safe_next(pending.next) or home_of(user))

    def _cas_service(self, request: Request) -> str:
        configured = self.sso.cas_client().settings.service_url
        return configured or request.host_url.rstrip("/") + CAS_CALLBACK_PATH
