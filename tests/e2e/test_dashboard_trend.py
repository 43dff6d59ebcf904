"""纪委办公室's dashboard draws the last eight weeks: cases per week as bars, the one-trip rate
as a line, and the same figures as a table for anyone who cannot see the chart."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.e2e.conftest import Person
from tests.support.gateway import Api
from tests.support.processes import ProcessGroup


def this_weeks_cases(page: Page, attempts: int = 120) -> int:
    """The audit ledger is fed by the case's events: the new case is counted within moments."""
    cell = page.locator("#trend-table tr.this-week .week-cases")
    for _ in range(attempts):
        page.goto("/supervision")
        if cell.count() and int(cell.inner_text()) >= 1:
            break
        page.wait_for_timeout(250)
    return int(cell.inner_text())


def test_the_dashboard_shows_eight_weeks_of_cases_and_the_one_trip_rate(
    person: Person, hall: Api
) -> None:
    # Given 李老师 applied for a campus network account this week
    reply = hall.as_user("teacher1").post(
        "/api/v1/cases",
        json={"item_id": "wangluo-kaitong", "form": {"申请表": "新入职教师,申请开通校园网账号"}},
    )
    assert reply.status_code == 201, reply.text

    # When 纪委办公室 opens the dashboard
    supervisor = person("discipline")
    cases = this_weeks_cases(supervisor)

    # Then this week counts her case, in the table and on the chart, with an accessible name
    assert cases >= 1, supervisor.locator("main").inner_text()
    expect(supervisor.locator("#trend-table tbody tr")).to_have_count(8)
    expect(supervisor.locator("#trend-table tr.this-week th")).to_contain_text("本周")
    chart = supervisor.get_by_role("img", name="近 8 周每周办件数(柱)与“最多跑一趟”达成率(折线)")
    expect(chart).to_be_visible()
    expect(chart.locator("rect.trend-bar")).to_have_count(8)
    expect(chart.locator("text.bar-count").last).to_have_text(str(cases))
    expect(chart.locator("desc")).to_contain_text(f"办件 {cases} 件")


def test_with_the_audit_service_down_the_dashboard_says_so_in_chinese(
    person: Person, hall: Api, processes: ProcessGroup
) -> None:
    # Given the dashboard works
    supervisor = person("discipline")
    supervisor.goto("/supervision")
    expect(supervisor.locator("#trend-table tbody tr")).to_have_count(8)

    # When the audit service stops (the gateway waits ONETRIP_RPC_TIMEOUT for its answers)
    audit = next(p for p in processes.processes if p.target == "audit")
    audit.stop()
    reply = supervisor.goto("/supervision", timeout=60_000)

    # Then the page still answers: each part says in Chinese why it has nothing to show,
    # the rest of the page (the period form, the report link) is there, and no trace leaks
    assert reply is not None and reply.status == 200
    main = supervisor.locator("main")
    expect(main.get_by_role("status").filter(has_text="趋势图暂无法显示")).to_contain_text(
        "审计服务"
    )
    expect(main.get_by_role("status").filter(has_text="审计服务")).to_have_count(3)
    expect(supervisor.get_by_role("img", name="近 8 周")).to_have_count(0)
    expect(main.get_by_label("统计开始")).to_be_visible()
    expect(main.get_by_role("link", name="下载监督报表(.xlsx)")).to_be_visible()
    assert "Traceback" not in supervisor.content()
