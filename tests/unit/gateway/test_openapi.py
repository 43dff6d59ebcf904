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


# Every status code ../shared/contract/http-api.md names for a path (its "Conventions" apply to
# all: 401 without a token, 400/422 for a bad body, 404 for an id that is not yours), as of v1.1.
CONTRACT_STATUSES: list[tuple[str, str, set[int]]] = [
    ("get", "/healthz", {200, 503}),
    ("post", "/api/v1/session", {200, 400, 401, 422, 429}),
    ("get", "/api/v1/me", {200, 401}),
    ("get", "/api/v1/items", {200}),
    ("get", "/api/v1/items/{item_id}", {200, 404}),
    ("get", "/api/v1/items/{item_id}/flowchart.svg", {200, 404}),
    ("post", "/api/v1/items", {201, 400, 401, 403, 422}),
    ("put", "/api/v1/items/{item_id}", {200, 400, 401, 403, 404, 409, 422}),
    ("post", "/api/v1/items/{item_id}/submit", {200, 401, 403, 404, 409}),
    ("post", "/api/v1/items/{item_id}/review", {200, 400, 401, 403, 404, 409, 422}),
    ("post", "/api/v1/items/{item_id}/publish", {200, 401, 403, 404, 409}),
    ("post", "/api/v1/items/{item_id}/retire", {200, 401, 403, 404, 409}),
    ("get", "/api/v1/catalogue.xlsx", {200, 401, 403}),
    ("post", "/api/v1/catalogue.xlsx", {200, 400, 401, 403, 413, 415}),
    ("post", "/api/v1/files", {201, 400, 401, 413, 415}),
    ("get", "/api/v1/files/{file_id}", {200, 401, 404}),
    ("post", "/api/v1/cases", {201, 400, 401, 403, 422}),
    ("get", "/api/v1/cases", {200, 401, 422}),
    ("get", "/api/v1/cases/{case_id}", {200, 401, 404}),
    ("post", "/api/v1/cases/{case_id}/resubmit", {200, 400, 401, 404, 409, 422}),
    ("post", "/api/v1/cases/{case_id}/withdraw", {200, 401, 404, 409}),
    ("post", "/api/v1/cases/{case_id}/urge", {202, 401, 404, 429}),
    ("post", "/api/v1/cases/{case_id}/trips", {201, 400, 401, 403, 404, 422}),
    ("post", "/api/v1/cases/{case_id}/rating", {201, 400, 401, 404, 409, 422}),
    ("get", "/api/v1/tasks", {200, 401, 403}),
    ("post", "/api/v1/tasks/{task_id}/decision", {200, 400, 401, 403, 404, 409, 422}),
    ("get", "/api/v1/notifications", {200, 401}),
    ("get", "/api/v1/audit/cases/{case_id}", {200, 401, 403, 404}),
    ("get", "/api/v1/audit/verify", {200, 401, 403}),
    ("get", "/api/v1/supervision/departments", {200, 401, 403, 422}),
    ("get", "/api/v1/supervision/report.xlsx", {200, 401, 403, 422}),
    ("get", "/api/v1/supervision/ratings", {200, 401, 403}),
    ("post", "/api/v1/supervision/ratings/{rating_id}/rectification", {200, 400, 401, 403, 404, 409, 422}),
    ("post", "/api/v1/supervision/checks", {201, 400, 401, 403, 422}),
]


def test_every_status_code_the_contract_names_is_documented(doc: dict[str, Any]) -> None:
    missing = {
        (method, path): sorted(statuses - {int(code) for code in doc["paths"][path][method]["responses"]})
        for method, path, statuses in CONTRACT_STATUSES
    }
    assert {route: codes for route, codes in missing.items() if codes} == {}


def test_every_error_is_problem_json_and_every_json_answer_has_a_schema(doc: dict[str, Any]) -> None:
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            for code, response in operation["responses"].items():
                content = response.get("content")
                assert content, (method, path, code)
                if int(code) >= 400 and (path, code) != ("/healthz", "503"):
                    assert content == {"application/problem+json": {
                        "schema": {"$ref": "#/components/schemas/Problem"}}}, (method, path, code)
                for kind, media in content.items():
                    assert media.get("schema"), (method, path, code, kind)


def test_health_audit_and_supervision_answers_are_described(doc: dict[str, Any]) -> None:
    schemas, paths = doc["components"]["schemas"], doc["paths"]

    def answer(path: str, code: str = "200") -> dict[str, Any]:
        ref = paths[path]["get"]["responses"][code]["content"]["application/json"]["schema"]["$ref"]
        return dict(schemas[ref.rsplit("/", 1)[-1]])

    assert answer("/healthz")["required"] == ["status", "services"] == answer("/healthz", "503")["required"]
    verify = answer("/api/v1/audit/verify")
    assert {"ok", "entries", "head", "first_bad_seq"} <= set(verify["required"])
    assert verify["properties"]["missing"]["type"] == "array" and verify["properties"]["missing"]["default"] == []
    missing = schemas[verify["properties"]["missing"]["items"]["$ref"].rsplit("/", 1)[-1]]
    assert set(missing["required"]) == {"service", "notification_id", "reason"}
    assert {"case_id", "events", "state"} <= set(answer("/api/v1/audit/cases/{case_id}")["required"])
    figures = answer("/api/v1/supervision/departments")["properties"]["departments"]["items"]["$ref"]
    assert "one_trip_rate" in schemas[figures.rsplit("/", 1)[-1]]["required"]
    assert "ratings" in answer("/api/v1/supervision/ratings")["required"]


def test_what_the_gate_refuses_is_stated_in_the_schemas(doc: dict[str, Any]) -> None:
    schemas = doc["components"]["schemas"]
    submission = schemas["CaseSubmission"]["properties"]
    # Free-form answers are JSON values without NUL; every text carries a pattern refusing NUL
    assert submission["form"]["additionalProperties"] == {"$ref": "#/components/schemas/JsonValue"}
    assert "\\u0000" in submission["form"]["propertyNames"]["pattern"]
    assert "\\u0000" in submission["item_id"]["pattern"]
    # A score is an integer, limit and offset are bounded integers
    assert schemas["RatingRequest"]["properties"]["score"]["type"] == "integer"
    paging = {p["name"]: p["schema"] for p in doc["paths"]["/api/v1/cases"]["get"]["parameters"]}
    assert paging["offset"]["type"] == "integer" and "maximum" in paging["offset"]
