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
    ok: dict[str, Any] = {"description": "OK"}
    if route.response is not None:
        ok["content"] = {"application/json": {"schema": refs[(route.response, "serialization")]}}
    op["responses"][str(route.status)] = ok
    if route.body is not None:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": refs[(route.body, "validation")]}},
        }
        op["responses"]["400"] = PROBLEM
        op["responses"]["422"] = PROBLEM
    if not route.public:
        op["security"] = [{"bearer": []}]
        op["responses"]["401"] = PROBLEM
    params = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in _path_params(route.openapi_path)
    ]
    if params:
        op["parameters"] = params
    return op


def _path_params(path: str) -> list[str]:
    return [piece[1:-1] for piece in path.split("/") if piece.startswith("{")]


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
