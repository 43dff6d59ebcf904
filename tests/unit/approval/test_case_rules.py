from __future__ import annotations

import threading
from datetime import date

import pytest

from services.approval.application import ApprovalApplication
from shared.errors import (
    ConflictError,
    ForbiddenError,
    InvalidError,
    NotFoundError,
    RateLimitedError,
)
from tests.unit.approval.support import (
    LI_FILES,
    PARALLEL_DEPARTMENTS,
    RENOVATION,
    Clock,
    decide,
    node,
    pending,
    published,
    renovation_item,
    returned_by_bwc,
    submit_complete,
)


def test_intake_names_every_missing_material_at_once(
    app: ApprovalApplication, clock: Clock
) -> None:
    # Given 李老师 leaves the form empty, cites 王老师's file and omits the design drawing
    # When she applies
    case = submit_complete(
        app, clock, form={"申请单位": ""}, materials={"改造前结构图": "file-of-wang"}
    )
    # Then intake names all three in one answer (一次性告知)
    assert case["status"] == "intake_rejected"
    assert case["missing_materials"] == ["审批表", "改造前结构图", "本次结构设计图"]
    assert case["due_at"] is None


def test_paper_and_optional_materials_are_not_checked_at_intake(
    app: ApprovalApplication, clock: Clock
) -> None:
    # Given an item version asking for a paper original and an optional photo
    item = renovation_item(version=2)
    item["materials"] += [
        {"name": "房产证明原件", "kind": "paper", "required": True},
        {"name": "现场照片", "kind": "file", "required": False},
    ]
    app.learn_item(item, now=clock.now())
    # When 李老师 applies with the required files only / Then it is in review
    assert submit_complete(app, clock)["status"] == "in_review"


def test_an_unknown_or_retired_item_cannot_be_applied_for(
    app: ApprovalApplication, clock: Clock
) -> None:
    # Given an item the approval service never learnt, and one that was retired
    app.retire_item(RENOVATION, now=clock.now())
    # When 李老师 applies for either / Then it is invalid (422)
    with pytest.raises(InvalidError):
        submit_complete(app, clock, item_id="no-such-item")
    with pytest.raises(InvalidError):
        submit_complete(app, clock)


def test_a_running_case_keeps_the_flow_version_it_started_with(
    app: ApprovalApplication, clock: Clock
) -> None:
    # Given a case submitted against version 1
    old_case = submit_complete(app, clock)
    # When version 2 is published with 财务处 dropped
    version_2 = renovation_item(version=2)
    version_2["flow"]["stages"].pop()
    app.learn_item(version_2, now=clock.advance(hours=1))
    assert not app.learn_item(version_2, now=clock.now())
    # Then the running case keeps stage 2, and a new case follows version 2
    assert [stage["name"] for stage in app.get_case(old_case["case_id"])["stages"]] == [
        "并行审批", "经费核算"
    ]
    new_case = submit_complete(app, clock)
    assert new_case["item_version"] == 2 and len(new_case["stages"]) == 1


def test_an_approver_of_another_department_cannot_decide(
    app: ApprovalApplication, clock: Clock
) -> None:
    # Given a case pending at 国资处
    case = submit_complete(app, clock)
    # When 财务处's approver decides 国资处's node / Then it is forbidden (403)
    with pytest.raises(ForbiddenError):
        app.decide(case["case_id"], "gzc", decision="approve", comment="", actor="cwc",
                   actor_department="cwc", actor_roles=["approver"], now=clock.now())


def test_deciding_twice_is_a_conflict(app: ApprovalApplication, clock: Clock) -> None:
    # Given 国资处 approved
    case = decide(app, clock, submit_complete(app, clock), "gzc")
    # When it decides again / Then it is a conflict (409)
    with pytest.raises(ConflictError):
        decide(app, clock, case, "gzc", "reject", "重复审批")


@pytest.mark.parametrize("decision", ["return", "reject"])
def test_return_and_reject_need_a_comment(
    app: ApprovalApplication, clock: Clock, decision: str
) -> None:
    case = submit_complete(app, clock)
    # When 保卫处 returns or rejects without a comment / Then it is invalid (422)
    with pytest.raises(InvalidError):
        decide(app, clock, case, "bwc", decision, "   ")
    assert node(app.get_case(case["case_id"]), "bwc")["state"] == "pending"


def test_a_return_cancels_the_other_pending_nodes_of_the_stage(
    app: ApprovalApplication, clock: Clock
) -> None:
    # Given two approvals in the parallel stage
    case = submit_complete(app, clock)
    for department in ["gzc", "jjc"]:
        case = decide(app, clock, case, department)
    # When 保卫处 returns first
    case = decide(app, clock, case, "bwc", "return", "请补充消防通道示意图")
    # Then the nodes still pending are cancelled and cannot decide any more
    assert [node(case, code)["state"] for code in PARALLEL_DEPARTMENTS] == [
        "approved", "approved", "cancelled", "cancelled", "returned", "cancelled"
    ]
    assert case["status"] == "returned"
    with pytest.raises(ConflictError):
        decide(app, clock, case, "xxh")


def test_returning_node_only_reopens_what_had_not_approved(clock: Clock) -> None:
    # Given an item whose parallel stage re-examines only the returning node
    app = ApprovalApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    app.learn_item(renovation_item(on_return="returning_node_only"), now=clock.now())
    case = submit_complete(app, clock)
    for department in ["gzc", "jjc", "xxh", "hq"]:
        case = decide(app, clock, case, department)
    case = decide(app, clock, case, "bwc", "return", "请补充消防通道示意图")
    # When 李老师 resubmits
    case = app.resubmit(case["case_id"], actor="teacher1", form=None, materials=None,
                        own_files=LI_FILES, now=clock.advance(days=1))
    # Then 保卫处 and 保密处 (cancelled by the return) review again; the approvals stand
    assert pending(case) == ["bwc", "bmc"]
    assert [node(case, code)["state"] for code in ["gzc", "jjc", "xxh", "hq"]] == ["approved"] * 4
    # And their approvals complete the stage
    case = decide(app, clock, decide(app, clock, case, "bwc"), "bmc")
    assert pending(case) == ["cwc"]
    app.close()


def test_a_reject_closes_the_case(app: ApprovalApplication, clock: Clock) -> None:
    # Given the parallel stage under way
    case = decide(app, clock, submit_complete(app, clock), "gzc")
    # When 基建处 rejects
    case = decide(app, clock, case, "jjc", "reject", "该楼为承重结构，不得拆除隔墙")
    # Then the case is rejected, nothing is pending, and no one may act on it
    assert case["status"] == "rejected"
    assert pending(case) == []
    assert node(case, "xxh")["state"] == "cancelled"
    with pytest.raises(ConflictError):
        decide(app, clock, case, "xxh")
    with pytest.raises(ConflictError):
        app.withdraw(case["case_id"], actor="teacher1", now=clock.now())


def test_the_applicant_may_withdraw_while_open(app: ApprovalApplication, clock: Clock) -> None:
    case = submit_complete(app, clock)
    # When 王老师 tries, she is told there is no such case; when 国资处 tries, it is forbidden
    with pytest.raises(NotFoundError):
        app.withdraw(case["case_id"], actor="teacher2", actor_department="hkxy", now=clock.now())
    with pytest.raises(ForbiddenError):
        app.withdraw(case["case_id"], actor="gzc", actor_department="gzc", now=clock.now())
    # When 李老师 withdraws
    case = app.withdraw(case["case_id"], actor="teacher1", now=clock.advance(hours=1))
    # Then the case is withdrawn and its pending nodes cancelled
    assert case["status"] == "withdrawn"
    assert {node(case, code)["state"] for code in PARALLEL_DEPARTMENTS} == {"cancelled"}
    with pytest.raises(ConflictError):
        app.withdraw(case["case_id"], actor="teacher1", now=clock.now())


def test_urging_reaches_each_pending_node_at_most_once_a_day(
    app: ApprovalApplication, clock: Clock
) -> None:
    # Given a case pending at six departments
    case = submit_complete(app, clock)
    # When 李老师 urges
    urged = app.urge(case["case_id"], actor="teacher1", now=clock.advance(hours=1))
    # Then all six are urged, and urging again that day is rate limited (429)
    assert urged == PARALLEL_DEPARTMENTS
    with pytest.raises(RateLimitedError):
        app.urge(case["case_id"], actor="teacher1", now=clock.advance(hours=3))
    # When five approve and the next day comes
    for department in ["gzc", "jjc", "xxh", "hq", "bmc"]:
        case = decide(app, clock, case, department)
    clock.moment = clock.moment.replace(hour=8) + (date(2026, 11, 28) - clock.moment.date())
    # Then she may urge the one still pending
    assert app.urge(case["case_id"], actor="teacher1", now=clock.now()) == ["bwc"]
    urge_events = [e for e in published(app, case["case_id"]) if e["type"] == "case_urged"]
    assert urge_events[-1]["data"]["departments"] == ["bwc"]


def test_urging_a_case_nothing_waits_on_is_a_conflict(
    app: ApprovalApplication, clock: Clock
) -> None:
    case = returned_by_bwc(app, clock)
    with pytest.raises(ConflictError):
        app.urge(case["case_id"], actor="teacher1", now=clock.now())


def test_staff_record_trips_against_the_promised_number(
    app: ApprovalApplication, clock: Clock
) -> None:
    # Given a case promised to need no trip (一趟不用跑)
    case = submit_complete(app, clock)
    # When 国资处 records a visit
    case = app.record_trip(case["case_id"], purpose="提交纸质图纸", actor="gzc",
                           actor_department="gzc", now=clock.advance(hours=1))
    # Then the case counts one trip against zero promised
    assert case["trips"] == [
        {"at": clock.now().isoformat(), "purpose": "提交纸质图纸", "recorded_by": "gzc"}
    ]
    assert case["trips_promised"] == 0
    trip = next(e for e in published(app, case["case_id"]) if e["type"] == "trip_recorded")
    assert (trip["data"]["trip_count"], trip["data"]["trips_promised"]) == (1, 0)
    # And staff of a department outside the case may not record one
    with pytest.raises(ForbiddenError):
        app.record_trip(case["case_id"], purpose="代交材料", actor="admin",
                        actor_department="hkxy", now=clock.now())


def test_a_closed_case_is_rated_once(app: ApprovalApplication, clock: Clock) -> None:
    case = submit_complete(app, clock)
    # When 李老师 rates before it is closed / Then it is a conflict
    with pytest.raises(ConflictError):
        app.rate(case["case_id"], score=5, comment="", actor="teacher1", now=clock.now())
    # When it is withdrawn and she rates 2 (a bad review)
    app.withdraw(case["case_id"], actor="teacher1", now=clock.advance(minutes=1))
    case = app.rate(case["case_id"], score=2, comment="材料要求不清楚", actor="teacher1",
                    now=clock.advance(minutes=1))
    # Then the rating is recorded and published as a bad review
    assert case["rating"] == {"score": 2, "comment": "材料要求不清楚"}
    rated = [e for e in published(app, case["case_id"]) if e["type"] == "case_rated"]
    assert rated[0]["data"]["bad_review"] is True and rated[0]["data"]["departments"] == ["gzc"]
    # And a second rating is a conflict, a score of 6 invalid
    with pytest.raises(ConflictError):
        app.rate(case["case_id"], score=4, comment="", actor="teacher1", now=clock.now())


def test_a_score_outside_one_to_five_is_invalid(app: ApprovalApplication, clock: Clock) -> None:
    case = app.withdraw(submit_complete(app, clock)["case_id"], actor="teacher1", now=clock.now())
    with pytest.raises(InvalidError):
        app.rate(case["case_id"], score=6, comment="", actor="teacher1", now=clock.now())


def test_an_overdue_node_is_flagged_once_per_opening(
    app: ApprovalApplication, clock: Clock
) -> None:
    # Given the parallel nodes opened on Friday, due at the end of Tuesday
    case = submit_complete(app, clock)
    # When the check runs on Tuesday evening / Then nothing is overdue yet
    assert app.mark_overdue(case["case_id"], now=clock.advance(days=4, hours=12)) == []
    # When it runs on Wednesday, and again an hour later
    for department in ["gzc", "jjc", "xxh", "hq", "bmc"]:
        case = decide(app, clock, case, department)
    first = app.mark_overdue(case["case_id"], now=clock.advance(days=1))
    second = app.mark_overdue(case["case_id"], now=clock.advance(hours=1))
    # Then only the node still pending is flagged, once
    assert (first, second) == (["bwc"], [])
    assert node(app.get_case(case["case_id"]), "bwc")["overdue"] is True
    # And once reopened after a return, it may become overdue again
    case = decide(app, clock, app.get_case(case["case_id"]), "bwc", "return", "请补充说明")
    case = app.resubmit(case["case_id"], actor="teacher1", form=None, materials=None,
                        own_files=LI_FILES, now=clock.now())
    assert node(case, "bwc")["overdue"] is False
    assert "bwc" in app.mark_overdue(case["case_id"], now=clock.advance(days=10))


def test_a_delegate_decides_on_behalf_of_the_approver(
    app: ApprovalApplication, clock: Clock
) -> None:
    # Given 国资处's approver delegates to 学校办公室's colleague for three days
    app.delegate(delegator="gzc", department="gzc", delegate="office",
                 starts_on=date(2026, 11, 27), ends_on=date(2026, 11, 29), now=clock.now())
    case = submit_complete(app, clock)
    # When the colleague approves 国资处's node within the range
    case = app.decide(case["case_id"], "gzc", decision="approve", comment="同意", actor="office",
                      actor_department="xb", actor_roles=["reviewer"], now=clock.advance(hours=1))
    # Then the decision records both people
    assert node(case, "gzc")["decided_by"] == "office"
    assert node(case, "gzc")["on_behalf_of"] == "gzc"
    decided = next(e for e in published(app, case["case_id"]) if e["type"] == "node_decided")
    assert (decided["data"]["decided_by"], decided["data"]["on_behalf_of"]) == ("office", "gzc")
    # And after the range, or for another department, the colleague may not decide
    with pytest.raises(ForbiddenError):
        app.decide(case["case_id"], "jjc", decision="approve", comment="", actor="office",
                   actor_department="xb", actor_roles=["reviewer"], now=clock.now())


def test_a_delegation_ends_with_its_range(app: ApprovalApplication, clock: Clock) -> None:
    app.delegate(delegator="gzc", department="gzc", delegate="office",
                 starts_on=date(2026, 11, 27), ends_on=date(2026, 11, 27), now=clock.now())
    case = submit_complete(app, clock)
    with pytest.raises(ForbiddenError):
        app.decide(case["case_id"], "gzc", decision="approve", comment="", actor="office",
                   actor_department="xb", actor_roles=["reviewer"], now=clock.advance(days=1))
    with pytest.raises(InvalidError):
        app.delegate(delegator="gzc", department="gzc", delegate="office",
                     starts_on=date(2026, 12, 2), ends_on=date(2026, 12, 1), now=clock.now())


def test_a_stale_task_cannot_be_decided(app: ApprovalApplication, clock: Clock) -> None:
    # Given 国资处's task of round 1, then a return and a resubmission (round 2)
    case = submit_complete(app, clock)
    stale_task = node(case, "gzc")["task_id"]
    case = decide(app, clock, case, "bwc", "return", "请补充消防通道示意图")
    case = app.resubmit(case["case_id"], actor="teacher1", form=None, materials=None,
                        own_files=LI_FILES, now=clock.advance(hours=1))
    # When 国资处 decides through the old task / Then it is a conflict; the new one works
    with pytest.raises(ConflictError):
        app.decide_task(stale_task, decision="approve", comment="", actor="gzc",
                        actor_department="gzc", actor_roles=["approver"], now=clock.now())
    case = app.decide_task(node(case, "gzc")["task_id"], decision="approve", comment="",
                           actor="gzc", actor_department="gzc", actor_roles=["approver"], now=clock.now())
    assert node(case, "gzc")["state"] == "approved"


def test_only_the_applicant_and_the_departments_concerned_see_a_case(
    app: ApprovalApplication, clock: Clock
) -> None:
    case = submit_complete(app, clock)
    assert app.get_case(case["case_id"], viewer="teacher1", viewer_department="hkxy") == case
    assert app.get_case(case["case_id"], viewer="cwc", viewer_department="cwc") == case
    with pytest.raises(NotFoundError):
        app.get_case(case["case_id"], viewer="teacher2", viewer_department="hkxy")
    with pytest.raises(NotFoundError):
        app.get_case("not-a-case")


def test_parallel_approvers_deciding_at_once_all_land_exactly_once(
    app: ApprovalApplication, clock: Clock
) -> None:
    # Given a case pending at six departments
    case = submit_complete(app, clock)
    now = clock.advance(hours=1)
    errors: list[BaseException] = []
    together = threading.Barrier(len(PARALLEL_DEPARTMENTS))

    def approve(department: str) -> None:
        together.wait()
        try:
            app.decide(case["case_id"], department, decision="approve", comment="",
                       actor=department, actor_department=department, actor_roles=["approver"],
                       now=now)
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    # When the six approvers decide at the same moment
    threads = [threading.Thread(target=approve, args=(code,)) for code in PARALLEL_DEPARTMENTS]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Then every decision landed once and 财务处 opened once
    assert errors == []
    events = published(app, case["case_id"])
    decided = [e["data"]["node_id"] for e in events if e["type"] == "node_decided"]
    opened_cwc = [e for e in events if e["type"] == "node_opened" and e["data"]["node_id"] == "cwc"]
    assert sorted(decided) == sorted(PARALLEL_DEPARTMENTS)
    assert len(opened_cwc) == 1
    assert pending(app.get_case(case["case_id"])) == ["cwc"]
