"""What every door admits: text the stores can hold, in structures no deeper than a form needs.

PostgreSQL text and jsonb cannot hold NUL, a lone surrogate cannot be encoded as UTF-8, and
jsonb has no NaN or Infinity. A value that one service stores (eventsourcing keeps state as
bytes) and the next cannot is a lost event, so the gateway (bodies, queries, paths, forms),
every RPC door (``shared.rpc``) and every event consumer (``shared.messaging``) refuse such
input by these rules, before anything is stored.
"""
from __future__ import annotations

import datetime as dt
import math
import re
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ValidationInfo, model_validator
from pydantic_core import PydanticKnownError, from_json

MAX_DEPTH = 32
"""Nested objects and arrays a value may have. A case form is a flat-ish object; the deepest
contract (an item's flow: stages, nodes) needs five."""

NO_NUL_PATTERN = "^[^\\u0000]*$"
"""The text rule as a JSON Schema pattern, for the OpenAPI document (surrogates cannot be
sent as UTF-8 at all)."""

# What pydantic's whitespace stripping (Rust's char::is_whitespace) removes, as a regex class.
_SPACES = "\\t\\n\\u000b\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000"
NOT_BLANK_PATTERN = f"^[^\\u0000]*[^\\u0000{_SPACES}][^\\u0000]*$"
"""Text with something besides spaces in it (a required field of a model that strips them)."""

_SURROGATE = re.compile("[\ud800-\udfff]")


class UnstorableError(ValueError):
    """Input no store can hold; the message says where and why, in Chinese."""


class MalformedJsonError(UnstorableError):
    """Not JSON at all, or nested deeper than ``MAX_DEPTH``: a malformed body (HTTP 400)."""


def text_problem(text: str) -> str | None:
    if "\x00" in text:
        return "含有空字符(\\u0000)"
    if _SURROGATE.search(text):
        return "含有不成对的代理字符(无效的 Unicode)"
    return None


def storable_text(text: str) -> str:
    problem = text_problem(text)
    if problem is not None:
        raise UnstorableError(f"文字{problem}")
    return text


def check_storable(value: Any, where: str = "") -> None:
    """Raises ``UnstorableError`` if ``value`` (decoded JSON) holds text or numbers no store can
    hold, or nests deeper than ``MAX_DEPTH``. Iterative: a deep value cannot exhaust the stack."""
    pending: list[tuple[Any, int, str]] = [(value, 0, where)]
    while pending:
        item, depth, path = pending.pop()
        if isinstance(item, dict | list | tuple):
            if depth >= MAX_DEPTH:
                raise MalformedJsonError(f"{_named(where)}嵌套超过 {MAX_DEPTH} 层")
            pending.extend(_children(item, depth + 1, path))
        else:
            _check_scalar(item, path)


def _children(item: dict[Any, Any] | list[Any] | tuple[Any, ...], depth: int, path: str) -> list[tuple[Any, int, str]]:
    if isinstance(item, dict):
        for key in item:
            _check_scalar(key, path)
        return [(child, depth, _joined(path, key)) for key, child in item.items()]
    return [(child, depth, _joined(path, index)) for index, child in enumerate(item)]


def _joined(path: str, part: Any) -> str:
    return f"{path}.{part}" if path else str(part)


def _check_scalar(item: Any, path: str) -> None:
    if isinstance(item, str):
        problem = text_problem(item)
        if problem is not None:
            raise UnstorableError(f"{_named(path)}{problem}")
    elif isinstance(item, float) and not math.isfinite(item):
        raise UnstorableError(f"{_named(path)}不是有限的数")


def _named(path: str) -> str:
    return f"{path[:100]} " if path else "内容"


def loads(raw: bytes | str) -> Any:
    """JSON text to a storable value. The parser (pydantic-core's, in Rust) stops at 200 levels
    by itself, without Python recursion, and refuses lone surrogates and NaN; the rest is
    ``check_storable``. Raises ``MalformedJsonError`` for what is not JSON or too deep,
    ``UnstorableError`` for text or numbers no store can hold."""
    try:
        value = from_json(raw, allow_inf_nan=False)
    except ValueError as exc:
        if "recursion limit" in str(exc):
            raise MalformedJsonError(f"内容嵌套超过 {MAX_DEPTH} 层") from None
        raise MalformedJsonError(f"不是合法的 JSON: {exc}") from None
    check_storable(value)
    return value


class Admitted(BaseModel):
    """Base of every model that reads input (HTTP bodies and queries, RPC arguments): refuses
    text, numbers or depth no store can hold wherever they are, free-form dictionaries included."""

    @model_validator(mode="after")
    def _storable(self) -> Admitted:
        # After the fields are read, so that a query's text still parses as numbers; a nested
        # model checks its own fields.
        for name, value in self.__dict__.items():
            try:
                check_storable(value, name)
            except UnstorableError as exc:
                raise ValueError(str(exc)) from None
        return self


StoredText = Annotated[str, AfterValidator(storable_text)]
"""A single string argument (a username, an id) held to the text rule."""


def _date_text(value: Any) -> Any:
    if not isinstance(value, str | dt.date):
        raise PydanticKnownError("date_parsing", {"error": "日期应写作 YYYY-MM-DD"})
    return value


Day = Annotated[dt.date, BeforeValidator(_date_text)]
"""A calendar date written as ``YYYY-MM-DD`` (not a number of seconds)."""


def _whole_number(value: Any, info: ValidationInfo) -> Any:
    # `true` is not 1, and "1" in a JSON body or an RPC argument is text; a query string's or a
    # page form's "1" (validated as strings) is a number. 1.0 is an integer to JSON Schema.
    if isinstance(value, bool) or (isinstance(value, str) and info.mode == "python"):
        raise PydanticKnownError("int_type")
    return value


WholeNumber = BeforeValidator(_whole_number)
"""An integer as JSON Schema means it: not a boolean, not text (but ``2.0`` is 2). Put it after
the bounds, ``Annotated[int, Field(ge=1), WholeNumber]``, or pydantic documents them wrongly."""


def text_required_when(field: str, values: list[str], text: str) -> dict[str, Any]:
    """JSON Schema (for the OpenAPI document) of a rule a model checks in a validator: ``text``
    must be given, and not blank, when ``field`` is one of ``values``."""
    return {
        "if": {"required": [field], "properties": {field: {"enum": values}}},
        "then": {
            "required": [text],
            "properties": {text: {"minLength": 1, "pattern": NOT_BLANK_PATTERN}},
        },
    }
