from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from services.approval.application import ApprovalApplication
from shared import casefold
from shared.contracts.approval import Case
from shared.contracts.case_events import CASE_EVENTS, NodeOpened
from tests.unit.approval.support import (
    BEFORE_DRAWING,
    FORM,
    LI_FILES,
    PARALLEL_DEPARTMENTS,
    Clock,
    decide,
    published,
    returned_by_bwc,
    submit_complete,
)

Step = Callable[[dict[str, Any]], dict[str, Any]]


def seed_story_steps(app: ApprovalApplication, clock: Clock) -> list[Step]:
    def resubmit(case: dict[str, Any]) -> dict[str, Any]:
        clock.advance(hours=2)
        return app.resubmit(
            case["case_id"], actor="teacher1", form=FORM,
            materials={"本次结构设计图": "file-design-li"}, own_files=LI_FILES, now=clock.now(),
        )

    def urge(case: dict[str, Any]) -> dict[str, Any]:
        app.urge(case["case_id"], actor="teacher1", now=clock.advance(hours=1))
        return app.get_case(case["case_id"])

    def overdue(case: dict[str, Any]) -> dict[str, Any]:
        app.mark_overdue(case["case_id"], now=clock.advance(days=6))
        return app.get_case(case["case_id"])

    def trip(case: dict[str, Any]) -> dict[str, Any]:
        return app.record_trip(
            case["case_id"], purpose="现场核验房屋结构", actor="gzc", actor_department="gzc",
            now=clock.advance(minutes=30),
        )

    def rate(case: dict[str, Any]) -> dict[str, Any]:
        return app.rate(
            case["case_id"], score=5, comment="全程网上办理，很方便", actor="teacher1",
            now=clock.advance(hours=1),
        )

    def approve(department: str) -> Step:
        return lambda case: decide(app, clock, case, department)

    return [
        resubmit,
        urge,
        *(approve(code) for code in ["gzc", "jjc", "xxh", "hq", "bmc"]),
        overdue,
        lambda case: decide(app, clock, case, "bwc", "return", "请补充消防通道示意图"),
        resubmit,
        trip,
        *(approve(code) for code in [*PARALLEL_DEPARTMENTS, "cwc"]),
        rate,
    ]


def test_folding_the_published_events_equals_the_case_at_every_step(
    app: ApprovalApplication, clock: Clock
) -> None:
    # Given 李老师's case, first submitted without the design drawing
    case = submit_complete(
        app, clock, materials={"改造前结构图": BEFORE_DRAWING}, own_files={BEFORE_DRAWING}
    )
    assert casefold.fold(published(app, case["case_id"])) == case
    # When it goes through the whole seed story, step by step
    for step in seed_story_steps(app, clock):
        case = step(case)
        # Then the audit's replay of what was published equals the approval service's view
        assert casefold.fold(published(app, case["case_id"])) == app.get_case(case["case_id"])
    assert case["status"] == "approved" and case["rating"] == {
        "score": 5, "comment": "全程网上办理，很方便"
    }


def test_every_published_event_matches_its_contract_and_names_whom_it_concerns(
    app: ApprovalApplication, clock: Clock
) -> None:
    # Given a case that went through the whole seed story
    case = submit_complete(
        app, clock, materials={"改造前结构图": BEFORE_DRAWING}, own_files={BEFORE_DRAWING}
    )
    for step in seed_story_steps(app, clock):
        case = step(case)
    # When its published events are read off the outbox
    events = published(app, case["case_id"])
    # Then each validates against its payload model and names case, item, applicant, departments
    assert {event["type"] for event in events} == set(CASE_EVENTS) - {
        "case_rejected", "case_withdrawn", "node_cancelled"
    }
    for event in events:
        CASE_EVENTS[event["type"]].model_validate(event["data"])
        assert event["data"]["item_id"] == "gongfang-zhuangxiu"
        assert event["data"]["applicant"] == "teacher1"
        assert event["data"]["departments"]
    # And the folded state is a contract Case
    Case.model_validate(casefold.fold(events))


def test_replay_as_of_a_moment_between_the_return_and_the_resubmission_shows_it_returned(
    app: ApprovalApplication, clock: Clock
) -> None:
    # Given a case returned by 保卫处 and resubmitted the next day
    case = returned_by_bwc(app, clock)
    returned_at = clock.now()
    clock.advance(days=1)
    app.resubmit(case["case_id"], actor="teacher1", form=None, materials=None,
                 own_files=LI_FILES, now=clock.now())
    # When the events up to the evening of the return are folded
    evening = returned_at.replace(hour=20)
    events = [e for e in published(app, case["case_id"]) if e["occurred_at"] <= evening.isoformat()]
    state = casefold.fold(events)
    # Then the case is returned with 保卫处's comment
    assert state is not None and state["status"] == "returned"
    assert state["return_comments"][0]["comment"] == "请补充消防通道示意图"


def test_apply_leaves_its_inputs_untouched(app: ApprovalApplication, clock: Clock) -> None:
    # Given the published events of a submitted case
    case = submit_complete(app, clock)
    events = published(app, case["case_id"])
    before = copy.deepcopy(events)
    # When they are folded twice
    first = casefold.fold(events)
    second = casefold.fold(events)
    # Then neither the events nor the first result changed
    assert events == before
    assert first == second == case


def test_a_stray_event_is_refused() -> None:
    # Given an event of another service
    # When it is applied / Then the fold refuses it rather than guess
    with pytest.raises(casefold.UnknownCaseEventError):
        casefold.fold([{"type": "item_published", "data": {"item_id": "x"}, "actor": "x"}])
    # And a case event that cannot start a case is refused as the first
    opened = NodeOpened(
        case_id="c-1", item_id="gongfang-zhuangxiu", item_name="公房装修改造申请",
        applicant="teacher1", lead_department="gzc", departments=["gzc"],
        at="2026-11-27T09:00:00+08:00", node_id="s1-gzc", department="gzc", stage="部门审核",
        stage_index=0, task_id="c-1.s1-gzc.1", round=1, opened_at="2026-11-27T09:00:00+08:00",
        due_at="2026-11-29T09:00:00+08:00",
    )
    with pytest.raises(casefold.UnknownCaseEventError):
        casefold.apply(None, opened, "gzc")
