from __future__ import annotations

from services.approval.application import ApprovalApplication
from tests.unit.approval.support import (
    BEFORE_DRAWING,
    DESIGN_DRAWING,
    FORM,
    LI_FILES,
    PARALLEL_DEPARTMENTS,
    RENOVATION,
    Clock,
    decide,
    node,
    pending,
)

BWC_COMMENT = "请补充消防通道示意图，施工期间不得占用疏散通道。"


def test_li_laoshi_renovation_goes_through_every_department_and_is_approved(
    app: ApprovalApplication, clock: Clock
) -> None:
    # Given 公房装修改造申请 is published and 李老师 has uploaded only the drawing before renovation
    # When she applies without 本次结构设计图
    case = app.submit(
        applicant="teacher1",
        applicant_department="hkxy",
        item_id=RENOVATION,
        form=FORM,
        materials={"改造前结构图": BEFORE_DRAWING},
        own_files={BEFORE_DRAWING},
        now=clock.now(),
    )
    # Then intake rejects it at once, naming the missing drawing
    assert case["status"] == "intake_rejected"
    assert case["missing_materials"] == ["本次结构设计图"]
    assert case["item_version"] == 1 and case["round"] == 1
    assert pending(case) == []

    # When she resubmits with the design drawing
    clock.advance(hours=1)
    case = app.resubmit(
        case["case_id"],
        actor="teacher1",
        form=None,
        materials={"本次结构设计图": DESIGN_DRAWING},
        own_files=LI_FILES,
        now=clock.now(),
    )
    # Then the six departments review in parallel
    assert case["status"] == "in_review" and case["round"] == 2
    assert case["missing_materials"] == []
    assert pending(case) == PARALLEL_DEPARTMENTS
    assert node(case, "cwc")["state"] == "waiting"

    # When five approve and 保卫处 returns with a comment
    for department in ["gzc", "jjc", "xxh", "hq", "bmc"]:
        case = decide(app, clock, case, department)
    case = decide(app, clock, case, "bwc", "return", BWC_COMMENT)
    # Then the case is back with her, carrying 保卫处's comment
    assert case["status"] == "returned"
    assert case["return_comments"] == [
        {"node_id": "bwc", "department": "bwc", "comment": BWC_COMMENT}
    ]
    assert node(case, "bwc")["comment"] == BWC_COMMENT
    assert case["stages"][0]["state"] == "returned"

    # When she resubmits
    clock.advance(days=1)
    case = app.resubmit(
        case["case_id"], actor="teacher1", form=FORM, materials=None, own_files=LI_FILES,
        now=clock.now(),
    )
    # Then every node of the stage reviews again, earlier approvals included
    assert case["status"] == "in_review" and case["round"] == 3
    assert pending(case) == PARALLEL_DEPARTMENTS
    assert all(node(case, code)["comment"] is None for code in PARALLEL_DEPARTMENTS)

    # When all six approve
    for department in PARALLEL_DEPARTMENTS:
        case = decide(app, clock, case, department)
    # Then 财务处 reviews the cost
    assert pending(case) == ["cwc"]
    assert case["stages"][0]["state"] == "approved"

    # When 财务处 approves
    case = decide(app, clock, case, "cwc")
    # Then the case is approved and closed
    assert case["status"] == "approved"
    assert case["closed_at"] == clock.now().isoformat()
    assert [stage["state"] for stage in case["stages"]] == ["approved", "approved"]
    assert node(case, "cwc")["decided_by"] == "cwc"
    assert app.get_case(case["case_id"]) == case
