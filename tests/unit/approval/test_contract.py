from __future__ import annotations

import pytest
from pydantic import ValidationError

from shared.contracts.approval import (
    CaseSubmission,
    DecisionRequest,
    DelegationRequest,
    RatingRequest,
    Resubmission,
    TripRequest,
)


@pytest.mark.parametrize("decision", ["return", "reject"])
def test_a_return_or_reject_without_a_comment_is_refused(decision: str) -> None:
    with pytest.raises(ValidationError, match="必须填写意见"):
        DecisionRequest.model_validate({"decision": decision, "comment": "  "})
    with pytest.raises(ValidationError):
        DecisionRequest.model_validate({"decision": decision})


def test_an_approval_needs_no_comment_and_an_unknown_decision_is_refused() -> None:
    assert DecisionRequest.model_validate({"decision": "approve"}).comment == ""
    with pytest.raises(ValidationError):
        DecisionRequest.model_validate({"decision": "pass", "comment": "同意"})


def test_a_submission_maps_material_names_to_file_ids() -> None:
    body = {
        "item_id": "gongfang-zhuangxiu",
        "form": {"房间": "航空楼 305"},
        "materials": {"改造前结构图": "f1", "本次结构设计图": "f2"},
    }
    assert CaseSubmission.model_validate(body).materials["本次结构设计图"] == "f2"
    with pytest.raises(ValidationError):
        CaseSubmission.model_validate({**body, "applicant": "teacher2"})
    assert Resubmission.model_validate({}).form is None


def test_ratings_are_one_to_five_and_trips_need_a_purpose() -> None:
    assert RatingRequest.model_validate({"score": 1, "comment": "差"}).score == 1
    for score in (0, 6):
        with pytest.raises(ValidationError):
            RatingRequest.model_validate({"score": score})
    with pytest.raises(ValidationError):
        TripRequest.model_validate({"purpose": " "})


def test_a_delegation_range_must_be_in_order() -> None:
    body = {"delegate": "office", "starts_on": "2026-12-02", "ends_on": "2026-12-01"}
    with pytest.raises(ValidationError, match="结束日期"):
        DelegationRequest.model_validate(body)
