"""Two notify instances side by side (operators scale each service on its own): every
event is turned into its messages once, and every message is sent once, by one of them."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from tests.support.notify import (
    CASE_QUEUE,
    TEACHER1_PHONE,
    ApprovalEvents,
    SmsGateway,
    closed,
    inbox_of,
    start_notify,
)
from tests.support.processes import ProcessGroup, ServiceProcess, eventually, queue_consumers

pytestmark = pytest.mark.integration

CASES = 30
SENT_SMS = re.compile(r"sent sms ")


def case_id(number: int) -> str:
    return f"00000000-0000-4000-8000-{number:012d}"


def test_two_instances_send_each_message_once_and_share_the_work(
    processes: ProcessGroup, notify_env: dict[str, str], directory: ServiceProcess, sms: SmsGateway
) -> None:
    # Given two notify instances consuming the same queue and dispatching from one work table
    first = start_notify(processes)
    second = processes.start("notify", label="notify-2")
    eventually(lambda: second.alive() and queue_consumers(notify_env["AMQP_URI"], CASE_QUEUE) == 2, 60)

    # When thirty of 李老师's cases are approved in a burst (final outcomes: no rate limit)
    for number in range(CASES):
        ApprovalEvents(notify_env["AMQP_URI"], case_id=case_id(number)).publish(
            "case_approved", **closed()
        )

    # Then her phone gets exactly one SMS per case, and the provider was asked once for each
    def all_received() -> list[dict[str, object]] | None:
        found = sms.messages(TEACHER1_PHONE)
        return found if len(found) >= CASES else None

    received = eventually(all_received, timeout=90)
    cases = Counter(
        next(case_id(n) for n in range(CASES) if case_id(n) in message["text"])
        for message in received
    )
    assert cases == Counter({case_id(n): 1 for n in range(CASES)})
    assert sms.behaviour()["requests"] == CASES

    # And her inbox holds one message per case, every one marked sent
    def all_in_inbox() -> list[dict[str, object]] | None:
        found = [n for n in inbox_of(notify_env, "teacher1") if n["channel"] == "inbox"]
        return found if len(found) >= CASES else None

    inbox = eventually(all_in_inbox, timeout=60)
    assert sorted(n["case_id"] for n in inbox) == sorted(case_id(n) for n in range(CASES))
    assert {n["status"] for n in inbox_of(notify_env, "teacher1")} == {"sent"}

    # And both instances did part of the sending, none of it twice
    sent_by = [len(SENT_SMS.findall(process.log())) for process in (first, second)]
    assert sum(sent_by) == CASES and all(count > 0 for count in sent_by), sent_by
