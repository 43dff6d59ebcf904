"""Who hears what, told with the seed's renovation case (公房装修改造申请)."""
from __future__ import annotations

from services.notify.audience import plan
from services.notify.messages import Templates
from tests.unit.notify.fakes import (
    CASE_ID,
    EXAMPLES,
    ITEM_EXAMPLES,
    FakeDirectory,
    case_event,
    item_event,
)

TEMPLATES = Templates(override_dir="")


def by_channel(deliveries: list, channel: str) -> list:
    return [d for d in deliveries if d.channel == channel]


def test_intake_rejection_tells_the_applicant_every_missing_material_in_one_message() -> None:
    # Given 李老师 submitted without both structure drawings
    event = case_event("case_intake_rejected", **EXAMPLES["case_intake_rejected"])
    # When notify plans the event
    deliveries = plan(event, FakeDirectory(), TEMPLATES)
    # Then she alone hears, one SMS and one inbox message, each naming both materials
    assert {d.recipient for d in deliveries} == {"teacher1"}
    assert sorted(d.channel for d in deliveries) == ["inbox", "sms"]
    for delivery in deliveries:
        assert "改造前结构图" in delivery.text and "本次结构设计图" in delivery.text
    assert by_channel(deliveries, "sms")[0].address == "13800000001"


def test_a_return_sends_every_returning_nodes_comment_in_one_message() -> None:
    # Given 保卫处 and 后勤集团 both returned the case
    event = case_event("case_returned", **EXAMPLES["case_returned"])
    # When
    deliveries = plan(event, FakeDirectory(emails={"teacher1": "li@example.edu.cn"}), TEMPLATES)
    # Then each channel carries one message with both departments' comments
    assert sorted(d.channel for d in deliveries) == ["email", "inbox", "sms"]
    for delivery in deliveries:
        assert "保卫处" in delivery.text and "请补充消防通道的设计说明" in delivery.text
        assert "后勤集团" in delivery.text and "施工时间请避开教学时段" in delivery.text
    email = by_channel(deliveries, "email")[0]
    assert email.address == "li@example.edu.cn" and "退回" in email.subject


def test_approval_sends_the_applicant_an_sms_with_banli_chenggong_and_the_case_id() -> None:
    deliveries = plan(case_event("case_approved", **EXAMPLES["case_approved"]), FakeDirectory(), TEMPLATES)
    sms = by_channel(deliveries, "sms")
    assert len(sms) == 1
    assert "办理成功" in sms[0].text and CASE_ID in sms[0].text
    assert sms[0].final is True


def test_rejection_and_withdrawal_reach_the_applicant() -> None:
    for kind, words in (("case_rejected", "未予通过"), ("case_withdrawn", "撤回")):
        deliveries = plan(case_event(kind, **EXAMPLES[kind]), FakeDirectory(), TEMPLATES)
        assert {d.recipient for d in deliveries} == {"teacher1"}
        assert all(words in d.text for d in deliveries)
    rejected = plan(case_event("case_rejected", **EXAMPLES["case_rejected"]), FakeDirectory(), TEMPLATES)
    withdrawn = plan(case_event("case_withdrawn", **EXAMPLES["case_withdrawn"]), FakeDirectory(), TEMPLATES)
    assert all(d.final for d in rejected) and not any(d.final for d in withdrawn)


def test_an_opened_node_reaches_its_departments_approvers_only() -> None:
    deliveries = plan(case_event("node_opened", **EXAMPLES["node_opened"]), FakeDirectory(), TEMPLATES)
    assert {d.recipient for d in deliveries} == {"jjc"}
    sms = by_channel(deliveries, "sms")[0]
    assert sms.address == "13900000002" and "基建处" in sms.text and "12月1日" in sms.text


def test_urging_reaches_the_approvers_of_every_urged_node() -> None:
    deliveries = plan(case_event("case_urged", **EXAMPLES["case_urged"]), FakeDirectory(), TEMPLATES)
    assert {d.recipient for d in deliveries} == {"bwc", "hq"}
    assert all("催办" in d.text for d in deliveries)


def test_overdue_reaches_the_nodes_and_the_lead_departments_approvers() -> None:
    deliveries = plan(case_event("node_overdue", **EXAMPLES["node_overdue"]), FakeDirectory(), TEMPLATES)
    assert {d.recipient for d in deliveries} == {"bwc", "gzc"}
    assert all("超过时限" in d.text for d in deliveries)


def test_editors_hear_when_the_school_office_returns_or_passes_their_item() -> None:
    returned = plan(item_event("item_returned", **ITEM_EXAMPLES["item_returned"]), FakeDirectory(), TEMPLATES)
    reviewed = plan(item_event("item_reviewed", **ITEM_EXAMPLES["item_reviewed"]), FakeDirectory(), TEMPLATES)
    assert {d.recipient for d in returned} == {"bwc"} == {d.recipient for d in reviewed}
    assert all("办理时限请按工作日填写" in d.text for d in returned)
    assert all("初审" in d.text for d in reviewed)


def test_events_nobody_needs_to_hear_about_plan_nothing() -> None:
    directory = FakeDirectory()
    for kind in ("case_submitted", "node_decided", "trip_recorded", "case_rated", "item_drafted"):
        assert plan(case_event(kind), directory, TEMPLATES) == []
    assert directory.asked == []


def test_an_unknown_recipient_is_skipped() -> None:
    event = case_event("case_approved", applicant="gone-away", **EXAMPLES["case_approved"])
    assert plan(event, FakeDirectory(), TEMPLATES) == []
