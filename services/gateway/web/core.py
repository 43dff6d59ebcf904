"""The plumbing of the hall's pages: cookie sessions, CSRF, templates and Chinese error pages.

Pages are nameko http entrypoints on the gateway's one web server, beside the JSON API, and
call the same services with the same models; only the envelope differs (HTML, cookies).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import BaseModel
from werkzeug.wrappers import Request, Response

from services.gateway.auth import User, admitted
from services.gateway.base import Gateway
from services.gateway.doors import FORM_BYTES
from services.gateway.http import EXPECTED, ApiError, ApiRoute, response_for
from services.gateway.identity import Identity, token_hours
from services.gateway.web import labels
from services.gateway.web.formhead import leading_field
from shared.config import env
from shared.errors import ForbiddenError, NotFoundError

M = TypeVar("M", bound=BaseModel)

WEB_DIR = Path(__file__).resolve().parent
STATIC_DIR = WEB_DIR / "static"
SESSION_COOKIE = "onetrip_session"
CSRF_COOKIE = "onetrip_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SHANGHAI = ZoneInfo("Asia/Shanghai")
NAME_CACHE_SECONDS = 300.0

ERROR_TITLES = {
    400: "请求有误",
    401: "请先登录",
    403: "无权进行此操作",
    404: "页面不存在",
    405: "不支持此操作",
    409: "状态已变化,无法操作",
    413: "文件过大",
    415: "文件类型不支持",
    422: "填写的内容有误",
    429: "操作过于频繁",
    503: "服务暂不可用",
}


def local_time(value: str | None) -> str:
    if not value:
        return "—"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


def figure(value: float | None, digits: int = 1) -> str:
    """A measured figure for people: one decimal (or ``digits``), a dash when there is none,
    and "不足 0.1" rather than 0.0046 for what rounds to nothing."""
    if value is None:
        return "—"
    smallest = 10.0**-digits
    if 0 < value < smallest:
        return f"不足 {smallest:g}"
    return f"{value:.{digits}f}"


def _environment() -> Environment:
    environment = Environment(
        loader=FileSystemLoader(WEB_DIR / "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(
        dept=labels.department_name,
        when=local_time,
        percent=percent,
        figure=figure,
        urlquote=quote,
    )
    environment.globals.update(labels=labels, static=static_url)
    return environment


def static_url(name: str) -> str:
    return f"/static/{name}"


TEMPLATES = _environment()


def csrf_token_for(seed: str, session: str) -> str:
    """A form's token: the browser's CSRF cookie bound to its session cookie, so that a token
    read in one session works in no other, even with its CSRF cookie planted beside it."""
    key = env("ONETRIP_SECRET_KEY").encode()
    message = f"csrf\0{seed}\0{session}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


@dataclass
class Visit:
    """One request to a page: who is signed in, the CSRF seed, and cookies to set."""

    request: Request
    user: User | None
    token: str | None
    csrf_seed: str
    new_cookies: dict[str, tuple[str, int | None]] = field(default_factory=dict)
    nav: dict[str, Any] = field(default_factory=dict)

    @property
    def csrf_token(self) -> str:
        """The token for the forms of this answer: bound to the session the browser holds
        once it has this answer's cookies."""
        session = self.new_cookies.get(SESSION_COOKIE, (self.presented_session, None))[0]
        return csrf_token_for(self.csrf_seed, session)

    @property
    def presented_session(self) -> str:
        return self.request.cookies.get(SESSION_COOKIE, "")

    def require_user(self, *roles: str) -> User:
        if self.user is None:
            raise _login_needed()
        if roles and not self.user.has_any(*roles):
            raise ForbiddenError("您的账号没有办理此项业务的权限")
        return self.user

    def check_csrf(self) -> None:
        sent = sent_csrf_token(self.request)
        expected = csrf_token_for(self.csrf_seed, self.presented_session)
        if not (sent and hmac.compare_digest(sent, expected)):
            raise ForbiddenError("表单已失效或缺少校验码(CSRF),请刷新页面后重试")

    def render(self, template: str, status: int = 200, **context: Any) -> Response:
        html = TEMPLATES.get_template(template).render(visit=self, user=self.user, **context)
        return self.finish(Response(html, status=status, content_type="text/html; charset=utf-8"))

    def redirect(self, location: str) -> Response:
        return self.finish(Response("", status=303, headers={"Location": location}))

    def sign_in(self, token: str) -> None:
        self.token = token
        self.new_cookies[SESSION_COOKIE] = (token, int(token_hours() * 3600))

    def sign_out(self) -> None:
        self.token = None
        self.new_cookies[SESSION_COOKIE] = ("", 0)

    def finish(self, response: Response) -> Response:
        secure = secure_cookies(self.request)
        for name, (value, max_age) in self.new_cookies.items():
            response.set_cookie(
                name,
                value,
                max_age=max_age,
                path="/",
                httponly=True,
                samesite="Lax",
                secure=secure,
            )
        response.headers.setdefault("Cache-Control", "no-store")
        return response


def sent_csrf_token(request: Request) -> str:
    """The token a form sent: in its header (the pages' script), as the first part of a
    multipart form (read before the files behind it), or in a small url-encoded form."""
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    if request.mimetype == "multipart/form-data":
        return leading_field(request, CSRF_FIELD)
    return request.form.get(CSRF_FIELD, "")


def secure_cookies(request: Request) -> bool:
    """``ONETRIP_SECURE_COOKIES``: ``auto`` marks the cookies Secure when the browser came over
    HTTPS (directly, or through a proxy saying ``X-Forwarded-Proto: https``); ``1`` always;
    ``0`` never."""
    setting = env("ONETRIP_SECURE_COOKIES").strip().lower()
    if setting in ("1", "true", "yes"):
        return True
    if setting in ("0", "false", "no"):
        return False
    forwarded = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
    return request.scheme == "https" or forwarded == "https"


class LoginNeededError(ApiError, status=401, title="Unauthorized"): ...


def _login_needed() -> LoginNeededError:
    return LoginNeededError("请先登录")


def open_visit(identity: Identity, request: Request) -> Visit:
    token = request.cookies.get(SESSION_COOKIE) or None
    user = signed_in_user(identity, token)
    seed = request.cookies.get(CSRF_COOKIE) or ""
    visit = Visit(request, user, token if user else None, seed or secrets.token_urlsafe(32))
    if not seed:
        visit.new_cookies[CSRF_COOKIE] = (visit.csrf_seed, None)
    if token and user is None:
        visit.sign_out()
    if request.method == "POST":
        visit.check_csrf()
    return visit


def signed_in_user(identity: Identity, token: str | None) -> User | None:
    if not token:
        return None
    try:
        return identity.viewer(f"Bearer {token}")
    except ApiError:
        return None


def error_page(exc: BaseException) -> Response:
    """The same status the JSON API gives for this failure, as a Chinese page."""
    problem = response_for(exc)
    body = json.loads(problem.get_data(as_text=True))
    status = int(body["status"])
    details = [labels.validation_message(error) for error in body.get("errors") or []]
    html = TEMPLATES.get_template("error.html").render(
        visit=None,
        user=None,
        status=status,
        title=ERROR_TITLES.get(status, "出错了"),
        detail=body["detail"],
        details=details,
    )
    response = Response(html, status=status, content_type="text/html; charset=utf-8")
    for name in ("Retry-After", "Allow"):
        if name in problem.headers:
            response.headers[name] = problem.headers[name]
    return response


def page_not_found(request: Request) -> Response:
    return error_page(NotFoundError(f"没有这个页面:{request.path[:200]}"))


class PageRoute(ApiRoute):
    """A page: its failures render a Chinese error page; 401 sends the visitor to log in."""

    plain_body_bytes = FORM_BYTES

    def response_from_exception(self, exc: BaseException) -> Response:
        return error_page(self.explained(exc))

    def handle_request(self, request: Request) -> Response:
        started = time.perf_counter()
        response: Response = super().handle_request(request)
        if response.status_code == 401 and request.method == "GET":
            target = quote(request.full_path.rstrip("?"), safe="/?=&")
            response = Response("", status=303, headers={"Location": f"/login?next={target}"})
        elapsed_ms = (time.perf_counter() - started) * 1000
        response.headers["Server-Timing"] = f"app;dur={elapsed_ms:.1f}"
        return response


def page_query(request: Request, model: type[M]) -> M:
    """The query as the API's model reads it; a field left empty in a form is not given."""
    given = {key: value for key, value in request.args.items() if value.strip()}
    return model.model_validate_strings(given)


def page(
    method: str, path: str, *, uploads: int = 0
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A page; one that takes files says how many (its body may be that much larger)."""
    return PageRoute.decorator(  # type: ignore[no-any-return]
        method, path, expected_exceptions=EXPECTED, uploads=uploads
    )


def json_endpoint(
    method: str, path: str, *, uploads: int = 0
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """For the pages' own scripts: answers JSON and problem+json like the API."""
    return ApiRoute.decorator(  # type: ignore[no-any-return]
        method, path, expected_exceptions=EXPECTED, uploads=uploads
    )


def form_command(request: Request, model: type[M]) -> M:
    """A page's form as the API's command ``model`` reads it; a field left empty is not given."""
    given = {key: value for key in model.model_fields if (value := request.form.get(key, ""))}
    return model.model_validate_strings(given)


class NameCache:
    """People's names change rarely; a page should not replay an account per name shown."""

    def __init__(self, seconds: float = NAME_CACHE_SECONDS) -> None:
        self.seconds = seconds
        self.names: dict[str, tuple[str, float]] = {}

    def name_of(self, identity: Identity, username: str) -> str:
        cached = self.names.get(username)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        account = identity.accounts.account(username)
        name = account.name if account is not None else username
        self.names[username] = (name, time.monotonic() + self.seconds)
        return name


NAMES = NameCache()


class Pages(Gateway):
    """What every page has beside the gateway's actions: the visit, and people's names."""

    def _visit(self, request: Request) -> Visit:
        return open_visit(self.identity, request)

    def _display_names(self, usernames: set[str]) -> dict[str, str]:
        """username → the person's name, for timelines ("保卫处审批员" rather than "bwc")."""
        return {username: NAMES.name_of(self.identity, username) for username in usernames}

    def _button(
        self, request: Request, act: Callable[..., dict[str, Any]], *args: Any,
        command: type[BaseModel] | None = None, then: Callable[[dict[str, Any]], str],
    ) -> Response:
        """A form's button: its action for the signed-in user (with the form as ``command``),
        then a redirect to ``then(answer)``."""
        visit = self._visit(request)
        user = admitted(visit.require_user(), act)
        given = (form_command(request, command),) if command is not None else ()
        return visit.redirect(then(act(user, *args, *given)))
