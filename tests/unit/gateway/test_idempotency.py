"""Idempotency-Key: which requests count as the same, and where the document says so."""
from __future__ import annotations

import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

import services.gateway.service  # noqa: F401  (registers the routes)
from services.gateway.http import UnprocessableError
from services.gateway.idempotency import idempotency_key, request_id_for
from services.gateway.openapi import document

KEYED = {("post", "/api/v1/cases"), ("post", "/api/v1/cases/{case_id}/resubmit"),
         ("post", "/api/v1/tasks/{task_id}/decision")}


def request(path: str = "/api/v1/cases", **headers: str) -> Request:
    return Request(EnvironBuilder(method="POST", path=path, headers=headers).get_environ())


def test_the_header_is_documented_on_the_three_commands_and_only_there() -> None:
    documented = {
        (method, path)
        for path, operations in document()["paths"].items()
        for method, operation in operations.items()
        if any(p["in"] == "header" and p["name"] == "Idempotency-Key" for p in operation.get("parameters", []))
    }
    assert documented == KEYED


def test_a_retry_is_the_same_request_and_anything_else_is_not() -> None:
    form = {"item_id": "wangluo-kaitong", "form": {"申请表": "开通", "备注": ""}}
    same = request_id_for("teacher1", "k1", request(), form)
    # The same body with its keys in another order is the same request
    assert request_id_for("teacher1", "k1", request(), dict(reversed(list(form.items())))) == same
    # Another body, path, user or key is not
    assert request_id_for("teacher1", "k1", request(), {**form, "form": {}}) != same
    assert request_id_for("teacher1", "k1", request("/api/v1/cases/x/resubmit"), form) != same
    assert request_id_for("teacher2", "k1", request(), form) != same
    assert request_id_for("teacher1", "k2", request(), form) != same


@pytest.mark.parametrize("bad", ["", "two words", "x" * 256])
def test_a_key_no_client_should_send_is_refused(bad: str) -> None:
    with pytest.raises(UnprocessableError):
        idempotency_key(request(**{"Idempotency-Key": bad}))


def test_a_request_without_the_header_has_no_key() -> None:
    assert idempotency_key(request()) is None
    assert idempotency_key(request(**{"Idempotency-Key": "5f0c6b1e-9a1d-4c1e-8f7a-1f2e3d4c5b6a"})) is not None
