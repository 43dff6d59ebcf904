"""The OpenAPI document, generated from the same pydantic models that validate requests."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from services.gateway.http import ROUTES, RouteDoc

PROBLEM = {
    "description": "application/problem+json (RFC 9457)",
    "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
}
BINARY = {"type": "string", "format": "binary"}
PROBLEM_SCHEMA = {
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "object"}},
    },
}


def _models() -> list[type[BaseModel]]:
    seen: dict[str, type[BaseModel]] = {}
    for route in ROUTES:
        for model in (route.body, route.response):
            if model is not None:
                seen[model.__name__] = model
    return list(seen.values())


def _operation(route: RouteDoc, refs: dict[Any, Any]) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": route.summary, "tags": route.tags, "responses": {}}
    op["responses"][str(route.status)] = _success(route, refs)
    body = _request_body(route, refs)
    if body is not None:
        op["requestBody"] = body
        op["responses"]["400"] = PROBLEM
    if body is not None or route.query is not None:
        op["responses"]["422"] = PROBLEM
    if not route.public:
        op["security"] = [{"bearer": []}]
        op["responses"]["401"] = PROBLEM
        op["responses"]["403"] = PROBLEM
    if route.path_params:
        op["responses"]["404"] = PROBLEM
    params = _path_parameters(route) + _query_parameters(route) + _header_parameters(route)
    if params:
        op["parameters"] = params
    return op


def _success(route: RouteDoc, refs: dict[Any, Any]) -> dict[str, Any]:
    ok: dict[str, Any] = {"description": "OK"}
    if route.response is not None:
        ok["content"] = {"application/json": {"schema": refs[(route.response, "serialization")]}}
    elif route.content_type != "application/json":
        binary = {"type": "string"} if route.content_type.startswith("image/svg") else BINARY
        ok["content"] = {route.content_type: {"schema": binary}}
    return ok


def _request_body(route: RouteDoc, refs: dict[Any, Any]) -> dict[str, Any] | None:
    if route.body is not None:
        schema = refs[(route.body, "validation")]
        return {"required": True, "content": {"application/json": {"schema": schema}}}
    if route.upload_field is not None:
        schema = {
            "type": "object",
            "required": [route.upload_field],
            "properties": {route.upload_field: BINARY},
        }
        return {"required": True, "content": {"multipart/form-data": {"schema": schema}}}
    return None


def _path_parameters(route: RouteDoc) -> list[dict[str, Any]]:
    return [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
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
    schema = route.query.model_json_schema()
    required = set(schema.get("required", []))
    return [
        {"name": name, "in": "query", "required": name in required, "schema": field_schema}
        for name, field_schema in schema.get("properties", {}).items()
    ]


def document() -> dict[str, Any]:
    models = _models()
    refs, schemas = models_json_schema(
        [(m, "validation") for m in models] + [(m, "serialization") for m in models],
        ref_template="#/components/schemas/{model}",
    )
    paths: dict[str, dict[str, Any]] = {}
    for route in ROUTES:
        for method in route.method.split(","):
            paths.setdefault(route.openapi_path, {})[method.lower()] = _operation(route, refs)
    components = dict(schemas.get("$defs", {}))
    components["Problem"] = PROBLEM_SCHEMA
    return {
        "openapi": "3.1.0",
        "info": {"title": "onetrip 网上办事大厅 API", "version": "1"},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
