"""The RPC door every onetrip service answers through: ``from shared.rpc import rpc``.

nameko's ``@rpc`` hands whatever arrives on the bus to the method. Here each request is
admitted first: who is calling (``check_caller``) and what they sent (``check_arguments``).
A refusal raised here travels back to the caller as the named error (``ForbiddenError``,
``InvalidError``), which the gateway maps to one HTTP status; the worker never runs.
"""
from __future__ import annotations

import inspect
import logging
import time
from typing import Any

from nameko.exceptions import MalformedRequest
from nameko.rpc import Rpc

from shared import metrics
from shared.busaccess import callers_of
from shared.caller import CONTEXT_KEY, Actor, Caller, verified
from shared.errors import InvalidError, UntrustedCallerError
from shared.inputs import UnstorableError, check_storable, text_problem

log = logging.getLogger(__name__)

# A parameter with one of these names holds the person asking: the actor dict, or their
# username. It must be the person the caller's signed assertion names (or None: the public).
CALLER_PARAMETERS = ("actor", "viewer")


class AdmittedRpc(Rpc):  # type: ignore[misc]
    def setup(self) -> None:
        super().setup()
        method = getattr(self.container.service_cls, self.method_name)
        self.signature = inspect.signature(method)
        self.accepted_callers = callers_of(self.container.service_name, self.method_name)

    def handle_message(self, body: Any, message: Any) -> None:
        if not isinstance(body, dict):
            raise MalformedRequest("an RPC request is a JSON object with args and kwargs")
        args, kwargs = body.get("args"), body.get("kwargs")
        if not isinstance(args, list) or not isinstance(kwargs, dict):
            raise MalformedRequest("an RPC request needs a list `args` and an object `kwargs`")
        message.onetrip_started = time.perf_counter()
        try:
            self.check_caller(self.unpack_message_headers(message), args, kwargs)
            self.check_arguments(args, kwargs)
        except (UntrustedCallerError, InvalidError):
            self._observe(message, "refused")
            raise
        super().handle_message(body, message)

    def handle_result(self, message: Any, worker_ctx: Any, result: Any, exc_info: Any) -> Any:
        self._observe(message, "ok" if exc_info is None else exc_info[0].__name__)
        return super().handle_result(message, worker_ctx, result, exc_info)

    def _observe(self, message: Any, outcome: str) -> None:
        started = getattr(message, "onetrip_started", None)
        if started is not None:
            metrics.RPC_SECONDS.labels(
                service=self.container.service_name, method=self.method_name, outcome=outcome
            ).observe(time.perf_counter() - started)

    def check_caller(self, context: dict[str, Any], args: list[Any], kwargs: dict[str, Any]) -> None:
        """Refuses a caller the bus cannot vouch for (the signed caller assertion)."""
        service = self.container.service_name
        try:
            caller = verified(context.get(CONTEXT_KEY), audience=service)
            if caller.service not in self.accepted_callers:
                raise UntrustedCallerError(f"{service} 不接受 {caller.service} 的调用")
            self._check_claimed_person(caller, args, kwargs)
        except UntrustedCallerError as exc:
            log.warning("refused an RPC call to %s.%s: %s", service, self.method_name, exc)
            raise

    def _check_claimed_person(self, caller: Caller, args: list[Any], kwargs: dict[str, Any]) -> None:
        try:
            bound = self.signature.bind(None, *args, **kwargs)
        except TypeError:
            return  # nameko's own signature check refuses the call
        for name in CALLER_PARAMETERS:
            claimed = bound.arguments.get(name)
            if claimed is not None and not _is(claimed, caller.actor):
                raise UntrustedCallerError(f"参数 {name} 与签名的调用者不一致")

    def check_arguments(self, args: list[Any], kwargs: dict[str, Any]) -> None:
        """Refuses arguments no store can hold (``shared.inputs``: NUL, lone surrogates, NaN,
        nesting deeper than a form needs), each argument judged on its own."""
        named = [(f"第 {number} 个参数", value) for number, value in enumerate(args, start=1)]
        for name, value in [*named, *kwargs.items()]:
            if text_problem(name) is not None:
                raise InvalidError(f"{self.method_name} 的参数名不合法")
            try:
                check_storable(value, name)
            except UnstorableError as exc:
                raise InvalidError(f"{self.method_name} 的参数不合法: {exc}") from None


def _is(claimed: Any, actor: Actor | None) -> bool:
    if actor is None:
        return False
    if isinstance(claimed, str):
        return claimed == actor.get("username")
    return bool(claimed == actor)


rpc = AdmittedRpc.decorator
