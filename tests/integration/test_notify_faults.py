"""Notify under failure: a crash after the provider accepted, a flaky provider, a dead number."""
from __future__ import annotations

from typing import Any

import pytest

from tests.support.notify import (
    APPROVER_PHONES,
    CASE_ID,
    TEACHER1_PHONE,
    ApprovalEvents,
    SmsGateway,
    closed,
    failed_notifications,
    inbox_of,
    node_opened,
    start_notify,
)
from tests.support.processes import ProcessGroup, ServiceProcess, eventually

pytestmark = pytest.mark.integration


def sms_of(service_env: dict[str, str], username: str) -> dict[str, Any] | None:
    found = [n for n in inbox_of(service_env, username) if n["channel"] == "sms"]
    assert len(found) <= 1
    return found[0] if found else None


def settled_sms(service_env: dict[str, str], username: str) -> dict[str, Any] | None:
    found = sms_of(service_env, username)
    return found if found and found["status"] != "pending" else None


def test_a_crash_after_the_provider_accepted_never_sends_a_second_sms(
    processes: ProcessGroup, notify_env: dict[str, str], directory: ServiceProcess, sms: SmsGateway
) -> None:
    # Given notify dies right after the SMS gateway accepts an SMS, before it records that
    crashing = start_notify(processes, ONETRIP_FAULT="notify_after_provider_accepted")
    ApprovalEvents(notify_env["AMQP_URI"]).publish("case_approved", **closed())
    assert crashing.wait_exit(timeout=30) == 17
    assert len(sms.messages(TEACHER1_PHONE)) == 1
    # When notify starts again
    start_notify(processes)
    # Then it sends again with the same key, the gateway de-duplicates, and the record says sent
    sent = eventually(lambda: settled_sms(notify_env, "teacher1"), timeout=30)
    assert sent["status"] == "sent"
    received = sms.messages(TEACHER1_PHONE)
    assert len(received) == 1 and received[0]["idempotency_key"] == sent["notification_id"]
    assert "办理成功" in received[0]["text"] and CASE_ID in received[0]["text"]
    assert sms.behaviour()["requests"] == 2


def test_a_provider_failing_three_times_delivers_once_with_the_attempts_recorded(
    processes: ProcessGroup, notify_env: dict[str, str], directory: ServiceProcess, sms: SmsGateway
) -> None:
    # Given the SMS gateway fails the next three requests
    sms.fail(times=3)
    start_notify(processes)
    # When 李老师's case is approved
    ApprovalEvents(notify_env["AMQP_URI"]).publish("case_approved", **closed())
    # Then one SMS arrives, on the fourth attempt
    sent = eventually(lambda: settled_sms(notify_env, "teacher1"), timeout=30)
    assert sent["status"] == "sent" and sent["attempts"] == 4
    assert len(sms.messages(TEACHER1_PHONE)) == 1
    assert sms.behaviour()["failures"] == 3


def test_a_number_failing_forever_ends_failed_and_blocks_nothing_else(
    processes: ProcessGroup, notify_env: dict[str, str], directory: ServiceProcess, sms: SmsGateway
) -> None:
    # Given the provider rejects every SMS to 李老师's number
    sms.fail(forever=True, phone=TEACHER1_PHONE)
    start_notify(processes)
    events = ApprovalEvents(notify_env["AMQP_URI"])
    # When her case is approved and, meanwhile, 基建处's node opens on another case
    events.publish("case_approved", **closed())
    ApprovalEvents(notify_env["AMQP_URI"], case_id="7a1e0c55-0000-4000-8000-000000000002").publish(
        "node_opened", **node_opened("jjc")
    )
    # Then 基建处 is told while her SMS is still being retried
    eventually(lambda: sms.messages(APPROVER_PHONES["jjc"]), timeout=30)
    # And her SMS ends failed after the bound, with the provider's reason, seen by supervisors
    failed = eventually(lambda: settled_sms(notify_env, "teacher1"), timeout=60)
    assert failed["status"] == "failed" and failed["attempts"] == 5
    assert "UPSTREAM_UNAVAILABLE" in failed["reason"]
    assert [n["notification_id"] for n in failed_notifications(notify_env)] == [failed["notification_id"]]
    assert sms.messages(TEACHER1_PHONE) == []
    # And her inbox still has the news
    inbox = [n for n in inbox_of(notify_env, "teacher1") if n["channel"] == "inbox"]
    assert inbox[0]["status"] == "sent" and "办理成功" in inbox[0]["text"]
