"""The timeline's words for each case event, read from the events as the bus carries them."""
from __future__ import annotations

from services.approval.application import ApprovalApplication
from services.gateway.web.labels import event_line
from tests.unit.approval.support import (
    BEFORE_DRAWING,
    LI_FILES,
    Clock,
    decide,
    published,
    submit_complete,
)


def test_each_step_of_li_laoshis_case_reads_as_what_happened(
    app: ApprovalApplication, clock: Clock
) -> None:
    # Given 李老师's case: first without the design drawing, then returned by 保卫处
    case = submit_complete(app, clock, materials={"改造前结构图": BEFORE_DRAWING},
                           own_files={BEFORE_DRAWING})
    case = app.resubmit(case["case_id"], actor="teacher1", form=None,
                        materials={"本次结构设计图": "file-design-li"}, own_files=LI_FILES,
                        now=clock.advance(hours=1))
    for department in ["gzc", "jjc", "xxh", "hq", "bmc"]:
        case = decide(app, clock, case, department)
    case = decide(app, clock, case, "bwc", "return", "请补充消防通道示意图")
    # When its published events are told in words
    lines = [event_line(event) for event in published(app, case["case_id"])]
    # Then each says what happened, and where
    assert lines[:2] == ["提交申请", "材料不全,未予受理(缺:本次结构设计图)"]
    assert "国资处:开始审批" in lines and "保卫处:退回" in lines
    assert lines[-1] == "退回申请人补正"
    # And an event of another service is named by its type
    assert event_line({"type": "item_published", "data": {"item_id": "x"}}) == "item_published"
