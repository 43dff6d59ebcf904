"""The one set of rules every door admits input by (shared.inputs)."""
from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from shared.contracts.approval import CasePage, CaseSubmission, DelegationRequest, RatingRequest
from shared.inputs import (
    MAX_DEPTH,
    MalformedJsonError,
    UnstorableError,
    check_storable,
    loads,
)
from shared.messaging import PoisonMessageError, parse_event
from tests.support.notify import build


def nested(levels: int) -> Any:
    value: Any = "公房"
    for _ in range(levels):
        value = {"下一层": value}
    return value


@pytest.mark.parametrize("value", [
    {"房间": "航空楼\u0000301"},
    {"房间\u0000": "301"},
    ["\ud800"],
    {"面积": float("nan")},
    nested(MAX_DEPTH + 1),
])
def test_what_no_store_can_hold_is_refused_wherever_it_is(value: Any) -> None:
    with pytest.raises(UnstorableError):
        check_storable(value)


def test_a_form_as_deep_as_the_bound_and_chinese_text_are_held() -> None:
    check_storable({"房间": "航空楼 301", "说明": nested(MAX_DEPTH - 1), "面积": 12.5})


def test_json_ten_thousand_deep_is_malformed_not_a_recursion_error() -> None:
    with pytest.raises(MalformedJsonError, match="嵌套超过"):
        loads(b"[" * 10_000 + b"]" * 10_000)
    with pytest.raises(MalformedJsonError):
        loads(b'{"comment": "\\ud800"}')
    with pytest.raises(UnstorableError, match="空字符"):
        loads(b'{"comment": "a\\u0000b"}')
    assert loads('{"房间": "航空楼 301"}'.encode()) == {"房间": "航空楼 301"}


def test_request_models_refuse_text_no_store_can_hold_in_free_form_fields() -> None:
    with pytest.raises(ValidationError, match="空字符"):
        CaseSubmission.model_validate({"item_id": "gongfang-zhuangxiu", "form": {"房间": "\u0000"}})
    with pytest.raises(ValidationError, match="空字符"):
        CaseSubmission.model_validate({"item_id": "gongfang-zhuangxiu", "materials": {"图\u0000": "f"}})


@pytest.mark.parametrize("score", [True, "5", 4.5, 0, 6])
def test_a_score_is_a_whole_number_from_one_to_five(score: Any) -> None:
    with pytest.raises(ValidationError):
        RatingRequest.model_validate({"score": score})


def test_a_score_of_five_point_zero_is_five_and_a_query_s_digits_are_numbers() -> None:
    assert RatingRequest.model_validate({"score": 5.0}).score == 5
    assert CasePage.model_validate_strings({"limit": "20", "offset": "40"}).limit == 20
    for text in ("²", "①", "true", "1e3"):
        with pytest.raises(ValidationError):
            CasePage.model_validate_strings({"limit": text})


def test_a_delegation_s_dates_are_written_out_not_seconds() -> None:
    with pytest.raises(ValidationError, match="YYYY-MM-DD"):
        DelegationRequest.model_validate({"delegate": "gzc", "starts_on": 0, "ends_on": 86_400})
    assert DelegationRequest.model_validate(
        {"delegate": "gzc", "starts_on": "2026-12-01", "ends_on": "2026-12-03"}
    ).ends_on.day == 3


def test_an_event_is_refused_whole_for_unstorable_text_depth_or_a_broken_contract() -> None:
    event = build("case_intake_rejected", "c-1", 1, "teacher1", round=1, missing_materials=["改造前结构图"])
    assert parse_event(event.to_wire(), "approval").type == "case_intake_rejected"
    for change in (
        {"actor": "teacher1\u0000"},
        {"data": {**event.data, "missing_materials": ["\ud800"]}},
        {"data": {**event.data, "missing_materials": [nested(MAX_DEPTH)]}},
        {"data": {"case_id": "c-1"}},
    ):
        with pytest.raises(PoisonMessageError):
            parse_event({**event.to_wire(), **change}, "approval")
