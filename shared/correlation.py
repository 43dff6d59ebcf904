"""One case's journey across services: a correlation id that travels from the HTTP request
through every RPC call into the envelope of every event the request caused.

The gateway takes the trace id of a W3C ``traceparent`` header, or an ``X-Request-Id``, or
makes one (32 hex digits, the shape of an OpenTelemetry trace id) and answers it in
``X-Request-Id``. nameko carries it between services as the context key ``correlation_id``
(the header ``nameko.correlation_id``); a worker sees it as ``current()``; the application stamps
each event it records with it (``shared.eventstore``), and the relay puts it in the envelope.
"""
from __future__ import annotations

import re
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

CONTEXT_KEY = "correlation_id"
HEADER = "X-Request-Id"
PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{7,63}")
TRACEPARENT = re.compile(r"[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}")

_current: ContextVar[str | None] = ContextVar("onetrip_correlation_id", default=None)


def new() -> str:
    return uuid.uuid4().hex


def valid(value: Any) -> str | None:
    """``value`` when it may serve as a correlation id (no spaces, no control characters,
    8 to 64 characters), else None."""
    if isinstance(value, str) and PATTERN.fullmatch(value):
        return value
    return None


def of_headers(headers: Mapping[str, str]) -> str:
    """The id a request asks to be followed by, or a new one."""
    traced = TRACEPARENT.fullmatch((headers.get("traceparent") or "").strip().lower())
    if traced and traced.group(1) != "0" * 32:
        return traced.group(1)
    return valid((headers.get(HEADER) or "").strip()) or new()


def current() -> str | None:
    return _current.get()


@contextmanager
def bound(correlation_id: str | None) -> Iterator[None]:
    token = enter(correlation_id)
    try:
        yield
    finally:
        leave(token)


def enter(correlation_id: str | None) -> Any:
    """Binds ``correlation_id`` in this green thread until ``leave(token)``."""
    return _current.set(valid(correlation_id))


def leave(token: Any) -> None:
    _current.reset(token)
