"""The OpenAPI document, generated from the same pydantic models that validate requests.

Request schemas say what the gate (``shared.inputs``) admits: text without NUL (a pattern on
every string, and on the names of free-form objects), free-form values as ``JsonValue``, and a
required text that is not only spaces where the model strips them. Every answer a route can give
is listed, errors as problem+json, so a client (or a fuzzer) can check each one.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue, models_json_schema
from pydantic_core import core_schema

from services.gateway.http import ROUTES, RouteDoc
from shared.inputs import MAX_DEPTH, NO_NUL_PATTERN, NOT_BLANK_PATTERN

REF = "#/components/schemas/{model}"
BINARY = {"type": "string", "format": "binary"}
PROBLEM_SCHEMA = {
    "type": "object",
    "description": "application/problem+json (RFC 9457); 中文说明在 detail",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "message", "type"],
                "properties": {
                    "field": {"type": "string"},
                    "message": {"type": "string"},
                    "type": {"type": "string"},
                },
            },
        },
    },
}
JSON_VALUE = {
    "description": f"任意 JSON 值:文字不含 \\u0000,嵌套不超过 {MAX_DEPTH} 层",
    "anyOf": [
        {"type": "string", "pattern": NO_NUL_PATTERN},
        {"type": "number"},
        {"type": "boolean"},
        {"type": "null"},
        {"type": "array", "items": {"$ref": REF.format(model="JsonValue")}},
        {
            "type": "object",
            "additionalProperties": {"$ref": REF.format(model="JsonValue")},
            "propertyNames": {"pattern": NO_NUL_PATTERN},
        },
    ],
}
# Where a value may be any JSON: a placeholder pydantic leaves alone (it resolves every `$ref` it
# meets), replaced by a reference to JsonValue once the document is built.
ANY_JSON = {"x-onetrip-json-value": True}
STATUS_TEXT = {
    400: "请求体不是 JSON 对象,或嵌套过深",
    401: "没有令牌或令牌无效",
    403: "已登录但无权进行此操作",
    404: "不存在,或不是你可以看的",
    409: "状态冲突(已处理、已评价、已关闭……)",
    413: "请求体或文件过大",
    415: "文件类型不被接受(按内容判断)",
    422: "格式正确但内容不合要求(含无法保存的文字,如 \\u0000)",
    429: "操作过于频繁",
    503: "后台服务暂不可用",
}


class GateSchema(GenerateJsonSchema):
    """JSON Schema for what the gate admits. Answers hold only what was admitted, so both modes
    say the same (and a model used both ways stays one component)."""

    def str_schema(self, schema: core_schema.StringSchema) -> JsonSchemaValue:
        json_schema = super().str_schema(schema)
        if "pattern" not in json_schema:
            blank_refused = self._config.str_strip_whitespace and json_schema.get("minLength", 0)
            json_schema["pattern"] = NOT_BLANK_PATTERN if blank_refused else NO_NUL_PATTERN
        return json_schema

    def model_schema(self, schema: core_schema.ModelSchema) -> JsonSchemaValue:
        # Fields a model ignores still pass the gate: any JSON value, under a name without NUL.
        json_schema = super().model_schema(schema)
        if json_schema.get("type") == "object" and "additionalProperties" not in json_schema:
            json_schema["additionalProperties"] = dict(ANY_JSON)
            json_schema["propertyNames"] = {"pattern": NO_NUL_PATTERN}
        return json_schema

    def any_schema(self, schema: core_schema.AnySchema) -> JsonSchemaValue:
        return dict(ANY_JSON)

    def dict_schema(self, schema: core_schema.DictSchema) -> JsonSchemaValue:
        json_schema = super().dict_schema(schema)
        names = json_schema.setdefault("propertyNames", {})
        for pattern, values in json_schema.pop("patternProperties", {}).items():
            json_schema["additionalProperties"], names["pattern"] = values, pattern
        names.setdefault("pattern", NO_NUL_PATTERN)
        return json_schema


def _models() -> list[type[BaseModel]]:
    seen: dict[str, type[BaseModel]] = {}
    for route in ROUTES:
        for model in (route.body, route.response, *route.answers.values()):
            if model is not None:
                seen[model.__name__] = model
    return list(seen.values())


def _operation(route: RouteDoc, refs: dict[Any, Any]) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": route.summary, "tags": route.tags}
    op["responses"] = {str(route.status): _success(route, refs)}
    for status, model in route.answers.items():
        schema = refs[(model, "serialization")]
        op["responses"][str(status)] = {
            "description": STATUS_TEXT.get(status, "OK"),
            "content": {"application/json": {"schema": schema}},
        }
    for status in problem_statuses(route):
        op["responses"].setdefault(str(status), _problem(status))
    body = _request_body(route, refs)
    if body is not None:
        op["requestBody"] = body
    if not route.public:
        op["security"] = [{"bearer": []}]
    params = _path_parameters(route) + _query_parameters(route) + _header_parameters(route)
    if params:
        op["parameters"] = params
    return op


def problem_statuses(route: RouteDoc) -> list[int]:
    """Every problem+json status the route can answer: 422 always (the gate reads every query
    and path), the rest from its shape and its ``errors``."""
    statuses = {422, *route.errors}
    if route.idempotent:
        statuses.add(409)  # the first request with this Idempotency-Key is still being answered
    if route.body is not None or route.upload_field is not None:
        statuses |= {400, 413}
    if route.upload_field is not None:
        statuses.add(415)
    if not route.public:
        statuses |= {401, 403}
    if route.path_params:
        statuses.add(404)
    if route.asks:
        statuses.add(503)
    return sorted(statuses)


def _problem(status: int) -> dict[str, Any]:
    schema = {"$ref": REF.format(model="Problem")}
    return {
        "description": STATUS_TEXT[status],
        "content": {"application/problem+json": {"schema": schema}},
    }


def _success(route: RouteDoc, refs: dict[Any, Any]) -> dict[str, Any]:
    ok: dict[str, Any] = {"description": "OK"}
    if route.response is not None:
        ok["content"] = {"application/json": {"schema": refs[(route.response, "serialization")]}}
        return ok
    kinds = (route.content_type,) if isinstance(route.content_type, str) else route.content_type
    ok["content"] = {kind: {"schema": _schema_of_kind(kind)} for kind in kinds}
    return ok


def _schema_of_kind(kind: str) -> dict[str, Any]:
    if kind == "application/json":
        return {"type": "object"}
    if kind.startswith(("text/", "image/svg")):
        return {"type": "string"}
    return BINARY


def _request_body(route: RouteDoc, refs: dict[Any, Any]) -> dict[str, Any] | None:
    if route.body is not None:
        schema = refs[(route.body, "validation")]
        return {"required": True, "content": {"application/json": {"schema": schema}}}
    if route.upload_field is not None:
        schema = {
            "type": "object",
            "required": [route.upload_field],
            "properties": {route.upload_field: BINARY},
            # other fields are ignored, but pass the gate like any form's (all text on the wire)
            "additionalProperties": {"pattern": NO_NUL_PATTERN},
            "propertyNames": {"pattern": NO_NUL_PATTERN},
        }
        return {"required": True, "content": {"multipart/form-data": {"schema": schema}}}
    return None


def _path_parameters(route: RouteDoc) -> list[dict[str, Any]]:
    schema = {"type": "string", "minLength": 1, "pattern": NOT_BLANK_PATTERN}
    return [
        {"name": name, "in": "path", "required": True, "schema": schema}
        for name in route.path_params
    ]


IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": (
        "可选。客户端为这次操作生成的唯一键(如 UUID),超时后重试时原样带上:同一用户、同一键、同一请求体"
        "在保留期(默认 24 小时)内只生效一次,重试得到第一次的应答(状态码与内容,并带 Idempotent-Replayed: true);"
        "同一键配另一请求体为 422;第一次仍在处理时为 409,按 Retry-After 稍后重试。"
    ),
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[\\x21-\\x7e]+$"},
}


def _header_parameters(route: RouteDoc) -> list[dict[str, Any]]:
    return [IDEMPOTENCY_KEY] if route.idempotent else []


def _query_parameters(route: RouteDoc) -> list[dict[str, Any]]:
    if route.query is None:
        return []
    schema = route.query.model_json_schema(schema_generator=GateSchema, ref_template=REF)
    required = set(schema.get("required", []))
    return [
        {"name": name, "in": "query", "required": name in required, "schema": _given(field_schema)}
        for name, field_schema in schema.get("properties", {}).items()
    ]


def _given(field_schema: dict[str, Any]) -> dict[str, Any]:
    """A query parameter is given or left out, never null: ``X | None`` documents as ``X``."""
    branches = [b for b in field_schema.get("anyOf", []) if b != {"type": "null"}]
    if len(branches) != 1 or len(field_schema["anyOf"]) != 2:
        return field_schema
    given = {k: v for k, v in field_schema.items() if k not in ("anyOf", "default")}
    return {**branches[0], **given}


def document() -> dict[str, Any]:
    models = _models()
    refs, schemas = models_json_schema(
        [(m, "validation") for m in models] + [(m, "serialization") for m in models],
        ref_template=REF,
        schema_generator=GateSchema,
    )
    paths: dict[str, dict[str, Any]] = {}
    for route in ROUTES:
        for method in route.method.split(","):
            paths.setdefault(route.openapi_path, {})[method.lower()] = _operation(route, refs)
    components = dict(schemas.get("$defs", {}))
    components.update(Problem=PROBLEM_SCHEMA, JsonValue=JSON_VALUE)
    return _with_json_values({
        "openapi": "3.1.0",
        "info": {"title": "onetrip 网上办事大厅 API", "version": "1.1"},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    })


def _with_json_values(node: Any) -> Any:
    if node == ANY_JSON:
        return {"$ref": REF.format(model="JsonValue")}
    if isinstance(node, dict):
        return {key: _with_json_values(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_with_json_values(value) for value in node]
    return node
