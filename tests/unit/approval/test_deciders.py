"""Who decides a node (委托 included), and keyed commands that take effect once."""
from __future__ import annotations

from datetime import date

import pytest

from services.approval.application import ApprovalApplication
from shared.errors import ForbiddenError
from tests.unit.approval.support import Clock, node, published, submit_complete


def event_types(app: ApprovalApplication, case_id: str) -> list[str]:
    return [event["type"] for event in published(app, case_id)]


def test_nobody_decides_a_node_of_their_own_case(app: ApprovalApplication, clock: Clock) -> None:
    # Given 国资处's approver applies for the renovation of their own office
    case = submit_complete(app, clock, applicant="gzc", applicant_department="gzc")
    # When they decide 国资处's node of it / Then it is forbidden, approver or not
    with pytest.raises(ForbiddenError, match="自己申请"):
        app.decide(case["case_id"], "gzc", decision="approve", comment="", actor="gzc",
                   actor_department="gzc", actor_roles=["approver"], now=clock.advance(hours=1))
    assert node(app.get_case(case["case_id"]), "gzc")["state"] == "pending"


def test_a_delegate_of_another_department_cannot_decide_their_own_case(
    app: ApprovalApplication, clock: Clock
) -> None:
    # Given 国资处 once delegated to 张同学 (a delegation the old code accepted)
    app.delegate(delegator="gzc", department="gzc", delegate="student1",
                 starts_on=date(2026, 11, 27), ends_on=date(2026, 11, 29), now=clock.now())
    case = submit_complete(app, clock, applicant="student1")
    # When 张同学 approves 国资处's node of the case she applied for / Then it is forbidden
    with pytest.raises(ForbiddenError, match="自己申请"):
        app.decide(case["case_id"], "gzc", decision="approve", comment="", actor="student1",
                   actor_department="hkxy", actor_roles=["applicant"], now=clock.advance(hours=1))


def test_a_delegation_does_not_open_the_delegates_own_department(
    app: ApprovalApplication, clock: Clock
) -> None:
    # Given 基建处's editor (not an approver) holds 国资处's delegation
    app.delegate(delegator="gzc", department="gzc", delegate="jjc-editor",
                 starts_on=date(2026, 11, 27), ends_on=date(2026, 11, 29), now=clock.now())
    case = submit_complete(app, clock)
    later = clock.advance(hours=1)
    # When they decide 基建处's own node / Then it is forbidden: they are no approver there
    with pytest.raises(ForbiddenError):
        app.decide(case["case_id"], "jjc", decision="approve", comment="", actor="jjc-editor",
                   actor_department="jjc", actor_roles=["editor"], now=later)
    # But 国资处's node, the one delegated, they decide on 国资处's behalf
    case = app.decide(case["case_id"], "gzc", decision="approve", comment="同意", actor="jjc-editor",
                      actor_department="jjc", actor_roles=["editor"], now=later)
    assert (node(case, "gzc")["decided_by"], node(case, "gzc")["on_behalf_of"]) == ("jjc-editor", "gzc")


def test_a_colleague_holding_the_delegation_decides_on_the_delegators_behalf(
    app: ApprovalApplication, clock: Clock
) -> None:
    # Given 国资处's approver delegates to a second 国资处 approver for three days
    app.delegate(delegator="gzc", department="gzc", delegate="gzc-deputy",
                 starts_on=date(2026, 11, 27), ends_on=date(2026, 11, 29), now=clock.now())
    case = submit_complete(app, clock)
    # When the colleague approves 国资处's node
    case = app.decide(case["case_id"], "gzc", decision="approve", comment="同意", actor="gzc-deputy",
                      actor_department="gzc", actor_roles=["approver"], now=clock.advance(hours=1))
    # Then the decision says for whom it was taken
    assert (node(case, "gzc")["decided_by"], node(case, "gzc")["on_behalf_of"]) == ("gzc-deputy", "gzc")


def test_a_keyed_submission_files_one_case(app: ApprovalApplication, clock: Clock) -> None:
    # Given 李老师's submission carried a request id
    first = submit_complete(app, clock, request_id="teacher1:key-1:abc")
    # When the same request comes again
    again = submit_complete(app, clock, request_id="teacher1:key-1:abc")
    # Then it answers the same case and files no second one
    assert again == first
    assert event_types(app, first["case_id"]).count("case_submitted") == 1
    # And another request files another case
    assert submit_complete(app, clock, request_id="teacher1:key-2:abc")["case_id"] != first["case_id"]


def test_a_keyed_decision_takes_effect_once(app: ApprovalApplication, clock: Clock) -> None:
    case = submit_complete(app, clock)
    task = node(case, "gzc")["task_id"]

    def approve() -> dict[str, object]:
        return app.decide_task(task, decision="approve", comment="同意", actor="gzc",
                               actor_department="gzc", actor_roles=["approver"],
                               now=clock.advance(minutes=1), request_id="gzc:k:1")

    # When 国资处 sends its keyed decision twice
    first, again = approve(), approve()
    # Then the second answers the case without a second decision (no 409)
    assert again == first
    assert event_types(app, case["case_id"]).count("node_decided") == 1
