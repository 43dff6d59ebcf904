"""Notify end to end: approval events on the real bus, real SMS gateway and SMTP server.

The seed's renovation case (公房装修改造申请) told through what 李老师 and the approvers receive.
"""
from __future__ import annotations

import re

import pytest

from services.gateway.models import AccountDraft
from tests.support.accounts import register_account
from tests.support.notify import (
    APPROVER_PHONES,
    CASE_ID,
    DEMO_PHONES,
    STAGE_ONE,
    TEACHER1_PHONE,
    ApprovalEvents,
    Mailbox,
    SmsGateway,
    body_of,
    closed,
    inbox_of,
    node_opened,
    start_notify,
)
from tests.support.processes import ProcessGroup, ServiceProcess, eventually

pytestmark = pytest.mark.integration

def sms_texts(sms: SmsGateway, phone: str) -> list[str]:
    return [m["text"] for m in sms.messages(phone)]


def test_the_renovation_case_reaches_the_applicant_and_every_approver(
    processes: ProcessGroup, notify_env: dict[str, str], directory: ServiceProcess, sms: SmsGateway
) -> None:
    # Given notify runs against the gateway's directory
    notify = start_notify(processes)
    events = ApprovalEvents(notify_env["AMQP_URI"])

    # When 李老师 first submits without both structure drawings
    events.publish("case_intake_rejected", round=1, missing_materials=["改造前结构图", "本次结构设计图"])
    # Then one SMS names both missing materials
    first = eventually(lambda: sms_texts(sms, TEACHER1_PHONE), timeout=60)
    assert len(first) == 1 and "改造前结构图" in first[0] and "本次结构设计图" in first[0]

    # When she resubmits and the six parallel nodes open
    for department in STAGE_ONE:
        events.publish("node_opened", **node_opened(department))
    # Then each approver is told once, about their own department
    for department in STAGE_ONE:
        texts = eventually(lambda d=department: sms_texts(sms, APPROVER_PHONES[d]), timeout=30)
        assert len(texts) == 1 and "待审批" in texts[0] and "公房装修改造申请" in texts[0]
    assert sms.messages(APPROVER_PHONES["cwc"]) == []

    # When 保卫处 returns the case
    events.publish(
        "case_returned", stage="并行审批", stage_index=0, round=2,
        comments=[{"node_id": "s1-bwc", "department": "bwc", "comment": "请补充消防通道的设计说明"}],
    )
    # Then one message carries 保卫处's comment
    texts = eventually(lambda: sms_texts(sms, TEACHER1_PHONE)[1:], timeout=30)
    assert len(texts) == 1 and "保卫处" in texts[0] and "请补充消防通道的设计说明" in texts[0]

    # When the case is approved in the end
    events.publish("case_approved", **closed())
    # Then the last SMS says 办理成功 with the case id
    final = eventually(lambda: sms_texts(sms, TEACHER1_PHONE)[2:], timeout=30)
    assert len(final) == 1 and "办理成功" in final[0] and CASE_ID in final[0]

    # And her inbox holds the same story, newest first, every message sent
    inbox = eventually(lambda: [n for n in inbox_of(notify_env, "teacher1") if n["channel"] == "inbox"])
    assert [n["status"] for n in inbox] == ["sent"] * 3
    assert "办理成功" in inbox[0]["text"] and inbox[0]["case_id"] == CASE_ID
    texts_by_channel = {n["channel"] for n in inbox_of(notify_env, "teacher1")}
    assert texts_by_channel == {"inbox", "sms"}
    assert all(n["to"] == "138****0001" for n in inbox_of(notify_env, "teacher1") if n["channel"] == "sms")

    # And nowhere in the notify log does a phone number appear unmasked
    notify.stop()
    log = notify.log() + directory.log() + sms.log_path.read_text()
    assert "138****0001" in notify.log()
    for phone in DEMO_PHONES:
        assert phone not in log, f"{phone} appears unmasked in the logs"


def test_an_email_reaches_an_applicant_with_an_address(
    processes: ProcessGroup, notify_env: dict[str, str], directory: ServiceProcess,
    sms: SmsGateway, mailbox: Mailbox,
) -> None:
    # Given 赵老师 has an e-mail address in the directory
    draft = AccountDraft(username="teacher9", name="赵老师", department="hkxy", roles=["applicant"],
                         phone="13800000009", email="zhao@example.edu.cn")
    register_account(notify_env, draft, password=None)
    start_notify(processes)
    # When her case is returned by two departments
    ApprovalEvents(notify_env["AMQP_URI"], applicant="teacher9").publish(
        "case_returned", stage="并行审批", stage_index=0, round=1,
        comments=[{"node_id": "s1-bwc", "department": "bwc", "comment": "请补充消防通道的设计说明"},
                  {"node_id": "s1-hq", "department": "hq", "comment": "施工时间请避开教学时段"}],
    )
    # Then one e-mail lists both comments
    mails = eventually(lambda: mailbox.to("zhao@example.edu.cn"), timeout=30)
    assert len(mails) == 1
    body = body_of(mails[0])
    assert "请补充消防通道的设计说明" in body and "施工时间请避开教学时段" in body
    assert "退回" in str(mails[0]["Subject"])
    assert re.fullmatch(r"<[0-9a-f-]{36}@onetrip>", str(mails[0]["Message-ID"]))
