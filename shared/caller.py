"""Who is calling over RPC: a short-lived assertion, signed with the bus key, in every request.

The caller signs a JWT (HS256, ``ONETRIP_BUS_KEY``) naming itself (``iss``), the service it
calls (``aud``: an assertion forwarded to another service is refused there), the person it acts
for (``actor``: the gateway's signed-in user, or null for the public and for a service's own
calls) and an expiry a minute away. It travels as nameko context data, the message header
``nameko.onetrip_caller``; the service's RPC door (``shared.rpc``) verifies it before a worker
runs. Signing costs ~15 µs and verifying ~30 µs.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from weakref import WeakKeyDictionary

import jwt
from nameko.constants import HEADER_PREFIX
from nameko.rpc import MethodProxy, RpcProxy, ServiceProxy
from nameko.standalone.rpc import ClusterProxy, ClusterRpcProxy

from shared.config import env
from shared.errors import UntrustedCallerError

CONTEXT_KEY = "onetrip_caller"
HEADER = f"{HEADER_PREFIX}.{CONTEXT_KEY}"
ALGORITHM = "HS256"
LIFETIME_SECONDS = 60
LEEWAY_SECONDS = 5  # clocks of two hosts may differ a little
REQUIRED_CLAIMS = ["iss", "aud", "iat", "exp"]

Actor = dict[str, Any]
Signer = Callable[[Any, str], str]  # (worker context, target service) -> assertion


@dataclass(frozen=True)
class Caller:
    service: str
    actor: Actor | None


def bus_key() -> str:
    return env("ONETRIP_BUS_KEY")


def sign(issuer: str, audience: str, actor: Actor | None, key: str | None = None,
         now: float | None = None) -> str:
    issued = int(time.time() if now is None else now)
    claims = {"iss": issuer, "aud": audience, "iat": issued, "exp": issued + LIFETIME_SECONDS,
              "actor": actor}
    return jwt.encode(claims, key or bus_key(), algorithm=ALGORITHM)


def verified(assertion: Any, audience: str, key: str | None = None) -> Caller:
    """The caller an assertion names; UntrustedCallerError unless it is ours, current and for us."""
    if not isinstance(assertion, str) or not assertion:
        raise UntrustedCallerError("总线调用缺少签名的调用者声明")
    try:
        claims = jwt.decode(assertion, key or bus_key(), algorithms=[ALGORITHM], audience=audience,
                            leeway=LEEWAY_SECONDS, options={"require": REQUIRED_CLAIMS})
    except jwt.ExpiredSignatureError:
        raise UntrustedCallerError("调用者声明已过期") from None
    except jwt.InvalidAudienceError:
        raise UntrustedCallerError(f"调用者声明不是发给 {audience} 的") from None
    except jwt.InvalidTokenError:
        raise UntrustedCallerError("调用者声明的签名无效") from None
    actor = claims.get("actor")
    if not isinstance(claims["iss"], str) or not (actor is None or isinstance(actor, dict)):
        raise UntrustedCallerError("调用者声明的内容不完整")
    return Caller(claims["iss"], actor)


# -- the calling side ---------------------------------------------------------------------

_ACTORS: WeakKeyDictionary[Any, Actor] = WeakKeyDictionary()


def act_for(worker_ctx: Any, actor: Actor) -> None:
    """The person a worker's RPC calls speak for from now on (the gateway's signed-in user)."""
    _ACTORS[worker_ctx] = actor


def worker_signer(worker_ctx: Any, audience: str) -> str:
    return sign(worker_ctx.service_name, audience, _ACTORS.get(worker_ctx))


class SignedMethodProxy(MethodProxy):  # type: ignore[misc]
    def __init__(self, *args: Any, signer: Signer, **options: Any) -> None:
        self.signer = signer
        super().__init__(*args, **options)

    def get_message_headers(self, worker_ctx: Any) -> dict[str, Any]:
        headers: dict[str, Any] = super().get_message_headers(worker_ctx)
        # Replaces any assertion the worker received: it was meant for this service, not the next.
        headers[HEADER] = self.signer(worker_ctx, self.service_name)
        return headers


class SignedServiceProxy(ServiceProxy):  # type: ignore[misc]
    def __init__(self, *args: Any, signer: Signer, **options: Any) -> None:
        self.signer = signer
        super().__init__(*args, **options)

    def __getattr__(self, name: str) -> SignedMethodProxy:
        return SignedMethodProxy(self.worker_ctx, self.service_name, name, self.reply_listener,
                                 signer=self.signer, **self.options)


class SignedRpcProxy(RpcProxy):  # type: ignore[misc]
    """nameko's ``RpcProxy`` whose every call carries the caller assertion."""

    def get_dependency(self, worker_ctx: Any) -> SignedServiceProxy:
        return SignedServiceProxy(worker_ctx, self.target_service, self.rpc_reply_listener,
                                  signer=worker_signer, **self.options)


class _SignedClusterProxy(ClusterProxy):  # type: ignore[misc]
    def __init__(self, worker_ctx: Any, reply_listener: Any, signer: Signer) -> None:
        super().__init__(worker_ctx, reply_listener)
        self._signer = signer

    def __getattr__(self, name: str) -> SignedServiceProxy:
        if name not in self._proxies:
            self._proxies[name] = SignedServiceProxy(
                self._worker_ctx, name, self._reply_listener, signer=self._signer
            )
        return self._proxies[name]  # type: ignore[no-any-return]


class SignedClusterRpcProxy(ClusterRpcProxy):  # type: ignore[misc]
    def __init__(self, config: dict[str, Any], signer: Signer, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self._proxy = _SignedClusterProxy(self._worker_ctx, self._reply_listener, signer)


def signed_cluster_rpc(
    amqp_uri: str, issuer: str = "gateway", actor: Actor | None = None, timeout: float = 20,
    key: str | None = None,
) -> SignedClusterRpcProxy:
    """nameko's standalone ``ClusterRpcProxy`` (``with ... as rpc: rpc.audit.verify()``), its
    calls signed as ``issuer`` acting for ``actor``: for operators' scripts and tests that
    hold the bus key."""
    return SignedClusterRpcProxy(
        {"AMQP_URI": amqp_uri},
        lambda _ctx, audience: sign(issuer, audience, actor, key),
        timeout=timeout,
    )
