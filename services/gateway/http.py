"""HTTP plumbing of the gateway: JSON bodies, problem+json errors, and the route registry."""

from __future__ import annotations

import json
import logging
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from nameko.exceptions import RemoteError
from nameko.web.handlers import HttpRequestHandler
from nameko.web.server import WebServer, WsgiApp
from pydantic import BaseModel, ValidationError
from werkzeug.exceptions import (
    HTTPException,
    MethodNotAllowed,
    NotFound,
    RequestEntityTooLarge,
)
from werkzeug.routing import RequestRedirect
from werkzeug.wrappers import Request, Response

from services.gateway import doors
from shared import correlation, metrics
from shared.errors import (
    ConflictError,
    ForbiddenError,
    InvalidError,
    NotFoundError,
    OnetripError,
    RateLimitedError,
    UntrustedCallerError,
)
from shared.inputs import MalformedJsonError, UnstorableError, check_storable, text_problem
from shared.inputs import loads as load_json

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)

MAX_JSON_BYTES = doors.JSON_BYTES


class ApiError(Exception):
    status = 500
    title = "Internal Server Error"

    def __init_subclass__(cls, status: int | None = None, title: str = "", **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.status, cls.title = status or cls.status, title or cls.title

    def __init__(
        self,
        detail: str,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors
        self.headers = headers


# What only HTTP can go wrong with: the request itself, or a service not answering in time.
class BadRequestError(ApiError, status=400, title="Bad Request"): ...
class UnauthorizedError(ApiError, status=401, title="Unauthorized"): ...
class PayloadTooLargeError(ApiError, status=413, title="Payload Too Large"): ...
class UnsupportedMediaTypeError(ApiError, status=415, title="Unsupported Media Type"): ...
class UnprocessableError(ApiError, status=422, title="Unprocessable Content"): ...
class ServiceUnavailableError(ApiError, status=503, title="Service Unavailable"): ...


# The one table from the domain errors (raised here, or by a service and crossing RPC by
# name) to HTTP: the nearest class of ``shared.errors`` decides.
STATUSES: dict[type[OnetripError], tuple[int, str]] = {
    NotFoundError: (404, "Not Found"),
    ForbiddenError: (403, "Forbidden"),
    ConflictError: (409, "Conflict"),
    InvalidError: (422, "Unprocessable Content"),
    RateLimitedError: (429, "Too Many Requests"),
}


def status_of(error: type[OnetripError]) -> tuple[int, str]:
    return next((status for base, status in STATUSES.items() if issubclass(error, base)),
                (500, "Internal Server Error"))


# by name, as RPC carries them; UntrustedCallerError (a ForbiddenError) is a service refusing
# the gateway's caller assertion: bus keys differ, or a bug named someone else than the user
REMOTE_ERRORS = {error.__name__: status_of(error) for error in (*STATUSES, UntrustedCallerError)}


def json_response(
    payload: Any, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(
        json.dumps(payload, ensure_ascii=False),
        status=status,
        headers=headers,
        content_type="application/json; charset=utf-8",
    )


def problem(
    status: int,
    title: str,
    detail: str,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
    }
    if errors is not None:
        body["errors"] = errors
    return Response(
        json.dumps(body, ensure_ascii=False),
        status=status,
        headers=headers,
        content_type="application/problem+json; charset=utf-8",
    )


def validation_errors(exc: ValidationError) -> list[dict[str, Any]]:
    return [
        {
            "field": ".".join(str(p) for p in error["loc"]) or "body",
            "message": error["msg"],
            "type": error["type"],
        }
        for error in exc.errors(include_url=False, include_input=False)
    ]


def response_for(exc: BaseException) -> Response:
    if isinstance(exc, ApiError):
        return problem(exc.status, exc.title, exc.detail, exc.errors, exc.headers)
    if isinstance(exc, OnetripError):
        return problem(*status_of(type(exc)), exc.detail, headers=exc.headers)
    if isinstance(exc, ValidationError):
        return problem(422, "Unprocessable Content", "请求内容不符合要求", validation_errors(exc))
    if isinstance(exc, RemoteError) and exc.exc_type in REMOTE_ERRORS:
        return problem(*REMOTE_ERRORS[exc.exc_type], str(exc.value))
    if isinstance(exc, HTTPException):
        return problem(exc.code or 500, exc.name, exc.description or exc.name)
    log.exception("unhandled error in the gateway", exc_info=exc)
    return problem(500, "Internal Server Error", "服务器内部错误,请稍后再试")


def read_json(request: Request) -> Any:
    if (request.content_length or 0) > MAX_JSON_BYTES:
        raise PayloadTooLargeError(f"请求体超过 {MAX_JSON_BYTES // 1024} KB")
    raw = request.get_data(cache=True)  # a body without a length is bounded at the door
    if not raw:
        raise BadRequestError("请求体为空,需要 JSON")
    try:
        return load_json(raw)
    except MalformedJsonError as exc:
        raise BadRequestError(f"请求体{exc}") from None
    except UnstorableError as exc:
        raise UnprocessableError(f"请求体中{exc}") from None


def parse_body(request: Request, model: type[M]) -> M:
    payload = read_json(request)
    if not isinstance(payload, dict):
        raise BadRequestError("请求体必须是 JSON 对象")
    return model.model_validate(payload)


def parse_query(request: Request, model: type[M]) -> M:
    """The query string as ``model`` reads it: every value is text, so a number is parsed from
    its digits (``limit=²`` is refused) while a model's JSON bodies stay strict."""
    return model.model_validate_strings(request.args.to_dict())


def admit_address(request: Request) -> None:
    """The gate for what the address and the headers carry: path, query and header values no store
    can hold are refused before any route reads them (a NUL in a file id, a case id, a search
    ``q``, an ``Idempotency-Key``...)."""
    values = getattr(request, "path_values", {}) or {}
    given = [*values.items(), *request.args.items(multi=True), *request.headers.items()]
    for name, value in given:
        for text in (name, value):
            problem = text_problem(text) if isinstance(text, str) else None
            if problem is not None:
                raise UnprocessableError(f"请求中的参数 {name[:40]!r} {problem}")


class GatedRequest(Request):
    """A request whose form fields (the pages' posts, multipart text fields) are held to the same
    text rule when they are first read, so a page cannot store what the API refuses."""

    def _load_form_data(self) -> None:
        super()._load_form_data()
        try:
            check_storable(self.form.to_dict(flat=False), "表单")
        except UnstorableError as exc:
            self.__dict__["form"] = self.parameter_storage_class()
            raise UnprocessableError(f"{exc}") from None


@dataclass
class RouteDoc:
    """What the OpenAPI document says of a route. The problem+json answers a route's shape
    implies (422 always, 400/413 with a body, 401/403 unless public, 404 with a path parameter,
    503 when it asks a service) are derived; ``errors`` names the others it can give."""

    method: str
    path: str
    summary: str
    body: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    public: bool = False
    tags: list[str] = field(default_factory=list)
    query: type[BaseModel] | None = None
    content_type: str | tuple[str, ...] = "application/json"
    upload_field: str | None = None
    idempotent: bool = False  # takes an Idempotency-Key header (services.gateway.idempotency)
    errors: tuple[int, ...] = ()
    answers: dict[int, type[BaseModel]] = field(default_factory=dict)
    asks: bool = True

    @property
    def openapi_path(self) -> str:
        return re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", self.path)

    @property
    def path_params(self) -> list[str]:
        return re.findall(r"<(?:[^:>]+:)?([^>]+)>", self.path)


ROUTES: list[RouteDoc] = []
CORRELATION_ENVIRON = "onetrip.correlation_id"
EXPECTED = (ApiError, OnetripError, ValidationError, RemoteError, HTTPException)


def routing_problem(exc: HTTPException, request: Request) -> Response:
    if isinstance(exc, NotFound) and not request.path.startswith("/api/"):
        # A browser's mistyped address gets the hall's Chinese page; imported here because
        # the pages themselves import this module.
        from services.gateway.web.core import page_not_found

        return page_not_found(request)
    if isinstance(exc, NotFound):
        return problem(404, "Not Found", f"没有这个地址: {request.path}")
    if isinstance(exc, MethodNotAllowed):
        allowed = ", ".join(exc.valid_methods or [])
        response = problem(405, "Method Not Allowed", f"{request.path} 不支持 {request.method}")
        response.headers["Allow"] = allowed
        return response
    return response_for(exc)


class ProblemWsgiApp(WsgiApp):  # type: ignore[misc]
    """nameko's WSGI app, but an unknown path or method answers problem+json, not HTML; every
    answer carries the security headers; a body left unread is not drained but cut off."""

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        response = doors.secured(self._answer(GatedRequest(environ, shallow=True), environ))
        if doors.body_left_unread(environ):
            doors.close_after_answer(environ)
        return response(environ, start_response)

    def _answer(self, request: Request, environ: dict[str, Any]) -> Response:
        adapter = self.url_map.bind_to_environ(environ)
        try:
            provider, values = adapter.match()
        except RequestRedirect as redirect:
            return redirect.get_response(environ)
        except HTTPException as exc:
            return routing_problem(exc, request)
        request.path_values = values  # type: ignore[attr-defined]
        followed = correlation.of_headers(request.headers)
        environ[CORRELATION_ENVIRON] = followed
        with correlation.bound(followed), metrics.timed(
            metrics.HTTP_SECONDS, method=request.method, route=provider.url, status="500"
        ) as seen:
            response: Response = provider.handle_request(request)
            seen["status"] = str(response.status_code)
        response.headers[correlation.HEADER] = followed
        return response


class ProblemWebServer(WebServer):  # type: ignore[misc]
    def get_wsgi_app(self) -> ProblemWsgiApp:
        return ProblemWsgiApp(self)

    def context_data_from_headers(self, request: Request) -> dict[str, Any]:
        """The worker (and every RPC call it makes) follows the request's correlation id."""
        context: dict[str, Any] = super().context_data_from_headers(request)
        followed = request.environ.get(CORRELATION_ENVIRON)
        if followed:
            context[correlation.CONTEXT_KEY] = followed
        return context

    def get_wsgi_server(
        self, sock: Any, wsgi_app: Any, protocol: Any = None, debug: bool = False
    ) -> Any:
        return super().get_wsgi_server(sock, wsgi_app, protocol=doors.DoorProtocol, debug=debug)

    def process_request(self, sock: socket.socket, address: Any) -> None:
        # eventlet writes a response's head and body in separate sends; with Nagle's
        # algorithm on, the body of a larger page waits for the client's delayed ACK
        # (~40 ms on Linux) after the head.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().process_request(sock, address)


class ApiRoute(HttpRequestHandler):  # type: ignore[misc]
    """nameko's http entrypoint whose failures answer as problem+json, never a stack trace.

    Its body is bounded before anything reads it: ``uploads`` files (``ONETRIP_MAX_UPLOAD_MB``
    each) and a small form, or a JSON body (a page's form for pages) when it takes no file. A
    larger Content-Length is refused unread; a body streamed without one stops at the bound."""

    server = ProblemWebServer()
    plain_body_bytes = doors.JSON_BYTES

    def __init__(self, method: str, url: str, *, uploads: int = 0, **kwargs: Any) -> None:
        super().__init__(method, url, **kwargs)
        self.uploads = uploads

    @property
    def body_limit(self) -> int:
        return doors.body_limit(self.uploads, self.plain_body_bytes)

    def handle_request(self, request: Request) -> Response:
        limit = self.body_limit
        if (request.content_length or 0) > limit:
            return self.response_from_exception(PayloadTooLargeError(doors.too_large(limit)))
        doors.bound_body(request.environ, limit)
        response: Response = super().handle_request(request)
        return response

    def explained(self, exc: BaseException) -> BaseException:
        if isinstance(exc, RequestEntityTooLarge):  # a body streamed past the bound
            return PayloadTooLargeError(doors.too_large(self.body_limit))
        return exc

    def get_entrypoint_parameters(self, request: Request) -> tuple[tuple[Any, ...], dict[str, Any]]:
        admit_address(request)
        return super().get_entrypoint_parameters(request)  # type: ignore[no-any-return]

    def response_from_exception(self, exc: BaseException) -> Response:
        return response_for(self.explained(exc))

    def response_from_result(self, result: Any) -> Response:
        if isinstance(result, Response):
            return result
        return super().response_from_result(result)  # type: ignore[no-any-return]


def api(method: str, path: str, **doc: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """An API route, documented by ``RouteDoc(method, path, **doc)``."""
    route_doc = RouteDoc(method, path, **doc)
    ROUTES.append(route_doc)

    def decorator(fn: Callable[..., Any]) -> Callable[..., Any]:
        uploads = 1 if route_doc.upload_field else 0
        route = ApiRoute.decorator(method, path, expected_exceptions=EXPECTED, uploads=uploads)
        return route(fn)  # type: ignore[no-any-return]

    return decorator
