"""纪委办公室's dashboard draws the last eight weeks: cases per week as bars, the one-trip rate
as a line, and the same figures as a table for anyone who cannot see the chart."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.e2e.conftest import Person
from tests.support.gateway import Api


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
