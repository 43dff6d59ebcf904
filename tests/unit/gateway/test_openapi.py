from __future__ import annotations

from typing import Any

import pytest

import services.gateway.service  # noqa: F401  (registers the routes)
from services.gateway.openapi import document

CONTRACT = [
    ("post", "/api/v1/session"),
    ("get", "/api/v1/me"),
    ("get", "/api/v1/items"),
    ("post", "/api/v1/items"),
    ("get", "/api/v1/items/{item_id}"),
    ("put", "/api/v1/items/{item_id}"),
    ("get", "/api/v1/items/{item_id}/flowchart.svg"),
    ("post", "/api/v1/items/{item_id}/submit"),
    ("post", "/api/v1/items/{item_id}/review"),
    ("post", "/api/v1/items/{item_id}/publish"),
    ("post", "/api/v1/items/{item_id}/retire"),
    ("get", "/api/v1/catalogue.xlsx"),
    ("post", "/api/v1/catalogue.xlsx"),
    ("get", "/healthz"),
]


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return document()


def request_schema(doc: dict[str, Any], method: str, path: str) -> str:
    content = doc["paths"][path][method]["requestBody"]["content"]["application/json"]
    return str(content["schema"]["$ref"])


def test_every_route_of_the_contract_is_documented(doc: dict[str, Any]) -> None:
    missing = [(m, p) for m, p in CONTRACT if m not in doc["paths"].get(p, {})]
    assert missing == []


def test_request_bodies_are_the_models_that_validate_them(doc: dict[str, Any]) -> None:
    assert request_schema(doc, "post", "/api/v1/items") == "#/components/schemas/ItemDraft"
    assert request_schema(doc, "put", "/api/v1/items/{item_id}") == "#/components/schemas/ItemDraft"
    assert request_schema(doc, "post", "/api/v1/items/{item_id}/review").endswith("ReviewRequest")
    assert request_schema(doc, "post", "/api/v1/session").endswith("SessionRequest")
    flow = doc["components"]["schemas"]["Flow"]
    assert "stages" in flow["properties"]


def test_public_reads_need_no_token_and_the_rest_do(doc: dict[str, Any]) -> None:
    paths = doc["paths"]
    assert "security" not in paths["/api/v1/items"]["get"]
    assert "security" not in paths["/api/v1/session"]["post"]
    assert paths["/api/v1/items"]["post"]["security"] == [{"bearer": []}]
    assert "403" in paths["/api/v1/items/{item_id}/publish"]["post"]["responses"]


def test_query_parameters_and_the_upload_are_described(doc: dict[str, Any]) -> None:
    search = doc["paths"]["/api/v1/items"]["get"]["parameters"]
    assert {(p["name"], p["in"]) for p in search} == {("q", "query"), ("department", "query")}
    upload = doc["paths"]["/api/v1/catalogue.xlsx"]["post"]["requestBody"]["content"]
    assert upload["multipart/form-data"]["schema"]["required"] == ["file"]
