"""The RPC door every onetrip service answers through: ``from shared.rpc import rpc``.

nameko's ``@rpc`` hands whatever arrives on the bus to the method. Here each request is
admitted first: who is calling (``check_caller``) and what they sent (``check_arguments``).
A refusal raised here travels back to the caller as the named error (``ForbiddenError``,
``InvalidError``), which the gateway maps to one HTTP status; the worker never runs.
"""
from __future__ import annotations

from typing import Any

from nameko.exceptions import MalformedRequest
from nameko.rpc import Rpc

from shared.errors import InvalidError
from shared.inputs import UnstorableError, check_storable, text_problem


class AdmittedRpc(Rpc):  # type: ignore[misc]
    def handle_message(self, body: Any, message: Any) -> None:
        if not isinstance(body, dict):
            raise MalformedRequest("an RPC request is a JSON object with args and kwargs")
        args, kwargs = body.get("args"), body.get("kwargs")
        if not isinstance(args, list) or not isinstance(kwargs, dict):
            raise MalformedRequest("an RPC request needs a list `args` and an object `kwargs`")
        self.check_caller(self.unpack_message_headers(message), args, kwargs)
        self.check_arguments(args, kwargs)
        super().handle_message(body, message)

    def check_caller(self, context: dict[str, Any], args: list[Any], kwargs: dict[str, Any]) -> None:
        """Refuses a caller the bus cannot vouch for (the signed caller assertion)."""

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


rpc = AdmittedRpc.decorator
