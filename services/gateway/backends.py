"""Calling the services behind the gateway: a bounded wait, and 503 when one does not answer."""

from __future__ import annotations

from typing import Any, Protocol

import eventlet
from nameko.exceptions import UnknownService

from services.gateway.http import ServiceUnavailableError
from shared.config import env


class Service(Protocol):
    """A service on the bus (a nameko RPC proxy): any of its RPC methods, by name."""

    def __getattr__(self, method: str) -> Any: ...


def ask(proxy: Service, method: str, *args: Any, **kwargs: Any) -> Any:
    """``proxy.method(*args, **kwargs)`` over RPC, waiting at most ONETRIP_RPC_TIMEOUT seconds."""
    service = getattr(proxy, "service_name", "service")
    try:
        reply = getattr(proxy, method).call_async(*args, **kwargs)
    except UnknownService as exc:
        raise ServiceUnavailableError(f"{service} 服务暂不可用,请稍后再试") from exc
    timer = eventlet.Timeout(float(env("ONETRIP_RPC_TIMEOUT")))
    try:
        return reply.result()
    except eventlet.Timeout as exc:
        if exc is not timer:
            raise
        raise ServiceUnavailableError(f"{service} 服务响应超时,请稍后再试") from exc
    finally:
        timer.cancel()
