"""纪委办公室 sees on the supervision dashboard what the audit ledger lacks and why, and which
dead letters wait for replay: here the audit service has a defect that keeps it from
appending the catalogue's item_published events, so both demo publications are dead-lettered."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from tests.e2e.conftest import Person, reload_until
from tests.e2e.test_accessibility import violations
from tests.support.gateway import Api
from tests.support.hall import running_hall
from tests.support.processes import ProcessGroup

LEDGER_QUEUE = "evt-catalogue-all--audit.on_event"
DEFECT = "故障注入：审计服务无法记入 item_published 事件"


@pytest.fixture
def hall(processes: ProcessGroup, tmp_path: Path) -> Iterator[Api]:
    """The hall whose audit service cannot append item_published (started first, as in
    tests/e2e/conftest.py, so it hears every event)."""
    processes.start(
        "audit",
        ONETRIP_AUDIT_CHECKPOINT=str(tmp_path / "checkpoint.json"),
        ONETRIP_FAULT="audit_append:item_published",
        ONETRIP_DELIVERY_LIMIT="2",
    ).wait_for_queue("rpc-audit")
    yield from running_hall(processes)


def test_the_dashboard_names_the_events_missing_from_the_ledger_and_the_dead_letters(
    person: Person, hall: Api
) -> None:
    # Given the catalogue published its two demo items and the audit service could not append them
    supervisor = person("discipline")

    # When 纪委办公室 opens the supervision dashboard
    rows = supervisor.locator("#missing-events tbody tr")
    reload_until(supervisor, "/supervision", rows.nth(1))

    # Then the ledger's verification fails, naming both events and the dead letter's reason
    box = supervisor.locator("#verification")
    expect(box).to_contain_text("✗ 校验失败:哈希链完整(共 7 条记录),但账本缺少已发布的事件。")
    expect(box).to_contain_text("有 2 个已发布的事件未记入审计账本。")
    expect(rows).to_have_count(2)
    for row in rows.all():
        expect(row).to_contain_text("服务事项清单")
        expect(row).to_contain_text("item_published")
        expect(row).to_contain_text("已转入死信队列")
        expect(row).to_contain_text(DEFECT)
    # And the dead letters waiting for replay name the audit service's queue and the reason
    letters = box.locator("#dead-letters tbody tr")
    expect(letters).to_have_count(2)
    expect(letters.first).to_contain_text("审计")
    expect(letters.first).to_contain_text(LEDGER_QUEUE)
    expect(letters.first).to_contain_text("AppendFaultError")
    expect(box).to_contain_text("python -m shared.deadletters replay")
    # And the page, tables included, meets WCAG 2.1 AA as axe checks it
    assert violations(Axe(), supervisor) == []

    # And the verification page says what GET /api/v1/audit/verify says
    verified = hall.as_user("discipline").get("/api/v1/audit/verify").json()
    supervisor.goto("/supervision/verify")
    page_rows = supervisor.locator("#missing-events tbody tr")
    expect(page_rows).to_have_count(len(verified["missing"]))
    for row, missing in zip(page_rows.all(), verified["missing"], strict=True):
        expect(row).to_contain_text(str(missing["notification_id"]))
        expect(row).to_contain_text(missing["reason"])
    expect(supervisor.locator("#dead-letters tbody tr")).to_have_count(len(verified["dead_letters"]))
    assert verified["ok"] is False
