"""An approver's inbox with an overdue node: first, marked in words as well as in red, and
counted in the summary line."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from tests.e2e.conftest import Person
from tests.e2e.test_pages_guard import li_laoshi_case
from tests.support.gateway import Api
from tests.support.processes import ProcessGroup, eventually

# An approval instance whose clock says a month has passed, checking every half second
LATE = {"ONETRIP_CLOCK_SKEW_DAYS": "30", "ONETRIP_OVERDUE_CHECK_SECONDS": "0.5"}


def xxh_task(hall: Api, case_id: str) -> dict[str, Any]:
    tasks = hall.as_user("xxh").get("/api/v1/tasks").json()["tasks"]
    return next(task for task in tasks if task["case_id"] == case_id)


def test_the_overdue_node_is_first_marked_in_words_and_counted(
    person: Person, hall: Api, processes: ProcessGroup
) -> None:
    # Given 李老师's renovation case, whose 信息化处 node the approval service flags overdue
    renovation = li_laoshi_case(hall)
    late = processes.start("approval", label="late", **LATE)
    eventually(lambda: xxh_task(hall, renovation)["overdue"], timeout=40)
    late.stop()

    # And a campus network case 信息化处 received after it, on time
    reply = hall.as_user("teacher1").post(
        "/api/v1/cases",
        json={"item_id": "wangluo-kaitong", "form": {"申请表": "新入职教师,申请开通校园网账号"}},
    )
    assert reply.status_code == 201, reply.text
    network = reply.json()["case_id"]
    eventually(lambda: xxh_task(hall, network), timeout=20)

    # When 信息化处's approver opens the inbox
    approver = person("xxh")
    approver.goto("/inbox")

    # Then the overdue one comes first, saying 已超期 in words beside the red, and is counted
    cards = approver.locator("main li.task")
    expect(cards.first.get_by_role("link")).to_have_attribute("href", f"/cases/{renovation}")
    expect(cards.first.locator(".overdue")).to_have_text("已超期")
    expect(approver.locator("main")).to_contain_text("其中 1 件已超期")
    on_time = cards.filter(has=approver.locator(f'a[href="/cases/{network}"]'))
    expect(on_time.locator(".overdue")).to_have_count(0)
    red = cards.first.locator(".overdue").evaluate("el => getComputedStyle(el).backgroundColor")
    assert red != on_time.evaluate("el => getComputedStyle(el).backgroundColor")
