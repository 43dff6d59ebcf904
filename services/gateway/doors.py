"""The gateway's doors, the same for the API and the pages: the headers every answer carries,
how large a request body may be, and which address a request comes from.

Every answer is declared never to be framed, never to be sniffed as another type, and to send
no referrer to other sites. Pages get a Content-Security-Policy that allows only this site's
own script, style sheet and images (the templates hold no inline script, style or handler);
everything else (JSON, the flow chart's SVG, files, spreadsheets) allows nothing at all.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from eventlet.wsgi import Input
from nameko.web.server import HttpOnlyProtocol
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Response

from shared.config import env

KIB = 1024
MIB = 1024 * KIB
JSON_BYTES = MIB
FORM_BYTES = 512 * KIB  # werkzeug's own bound on a form's text fields

PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "object-src 'none'"
)
NOTHING_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
CLOSE_CONNECTION = "onetrip.close_connection"


def secured(response: Response) -> Response:
    """The one place the security headers are set, on every answer of the gateway."""
    page = response.mimetype == "text/html"
    response.headers["Content-Security-Policy"] = PAGE_POLICY if page else NOTHING_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    return response


# -- request bodies ------------------------------------------------------------------------


def upload_limit_bytes() -> int:
    """``ONETRIP_MAX_UPLOAD_MB``: the largest file one upload may carry."""
    return int(env("ONETRIP_MAX_UPLOAD_MB")) * MIB


def body_limit(uploads: int, otherwise: int) -> int:
    """The largest body a route reads: ``uploads`` files and a small form beside them, or
    ``otherwise`` (a JSON body, a page's form) when it takes no file."""
    return uploads * upload_limit_bytes() + FORM_BYTES if uploads else otherwise


def too_large(limit: int) -> str:
    size = f"{limit // MIB} MB" if limit >= MIB else f"{limit // KIB} KB"
    return f"请求内容过大(上限 {size}),未被读取"


class CappedBody:
    """A body streamed without a length (chunked), readable up to ``limit`` bytes: reading
    past them raises 413 instead of quietly stopping there, as a truncated body would parse."""

    def __init__(self, body: Any, limit: int) -> None:
        self.body = body
        self.limit = limit
        self.count = 0

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            return b"".join(iter(lambda: self.read(64 * KIB), b""))
        data: bytes = self.body.read(min(size, self.limit + 1 - self.count))
        self.count += len(data)
        if self.count > self.limit:
            raise RequestEntityTooLarge()
        return data

    def readline(self, size: int | None = -1) -> bytes:
        room = self.limit + 1 - self.count
        data: bytes = self.body.readline(room if size is None or size < 0 else min(size, room))
        self.count += len(data)
        if self.count > self.limit:
            raise RequestEntityTooLarge()
        return data


def bound_body(environ: dict[str, Any], limit: int) -> None:
    """Bounds a body streamed without a length; one with a length is refused before this when
    it is over ``limit``, and werkzeug never reads past its length."""
    if environ.get("wsgi.input_terminated"):
        environ["wsgi.input"] = CappedBody(environ["wsgi.input"], limit)


def body_left_unread(environ: dict[str, Any]) -> bool:
    body = environ.get("wsgi.input")
    if isinstance(body, CappedBody):
        body = body.body
    if not isinstance(body, Input):
        return False
    if body.chunked_input:
        return body.chunk_length != 0
    return body.position < (body.content_length or 0)


def close_after_answer(environ: dict[str, Any]) -> None:
    """Ends the connection after this answer instead of reading (draining) what is left of the
    request body, as eventlet would to keep the connection alive."""
    close: Callable[[], None] | None = environ.get(CLOSE_CONNECTION)
    if close is not None:
        close()


class DoorProtocol(HttpOnlyProtocol):  # type: ignore[misc]
    """nameko's HTTP protocol, able to close a connection whose request body was left unread,
    and letting a chunked body (no Content-Length) be read up to the route's limit."""

    def get_environ(self) -> dict[str, Any]:
        environ: dict[str, Any] = super().get_environ()
        if environ["wsgi.input"].chunked_input:
            environ["wsgi.input_terminated"] = True  # eventlet ends the stream at its last chunk
        environ[CLOSE_CONNECTION] = self._close_after_answer
        return environ

    def _close_after_answer(self) -> None:
        self.close_connection = 1


# -- who is asking --------------------------------------------------------------------------

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def trusted_proxies(setting: str) -> tuple[Network, ...]:
    parts = [part.strip() for part in setting.split(",")]
    return tuple(ipaddress.ip_network(part, strict=False) for part in parts if part)


def is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def is_trusted(address: str, proxies: tuple[Network, ...]) -> bool:
    return is_address(address) and any(
        ipaddress.ip_address(address) in network for network in proxies
    )


def client_address(environ: dict[str, Any]) -> str:
    """The address a request comes from: the socket's peer; when that peer is one of
    ``ONETRIP_TRUSTED_PROXIES``, the right-most address in ``X-Forwarded-For`` that is not
    itself a trusted proxy (the left part of the header is whatever the client wrote)."""
    peer = str(environ.get("REMOTE_ADDR") or "unknown")
    proxies = trusted_proxies(env("ONETRIP_TRUSTED_PROXIES"))
    if not is_trusted(peer, proxies):
        return peer
    forwarded = [hop.strip() for hop in environ.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    for hop in reversed([hop for hop in forwarded if hop]):
        if not is_trusted(hop, proxies):
            return hop if is_address(hop) else peer
    return peer
