"""委托审批 on the page: a delegation to someone who is not an approver of the department is
refused in words, the entered dates kept; a colleague who is, is accepted."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from playwright.sync_api import expect

from services.gateway.models import AccountDraft
from tests.e2e.conftest import Person
from tests.support.accounts import register_account


def test_a_delegation_to_a_student_is_refused_on_the_page(
    person: Person, service_env: dict[str, str]
) -> None:
    # Given 国资处 has a second approver, 国资处副处长
    register_account(service_env, AccountDraft(
        username="gzc-deputy", name="国资处副处长", department="gzc", roles=["approver"],
        phone="13900000021"))
    today = datetime.now(timezone(timedelta(hours=8))).date()
    starts, ends = today.isoformat(), (today + timedelta(days=3)).isoformat()
    approver = person("gzc")
    approver.goto("/delegations")
    # The page names the colleagues one may delegate to
    expect(approver.locator("main")).to_contain_text("国资处副处长(gzc-deputy)")

    # When 国资处's approver delegates to 张同学, a student
    approver.get_by_label("受委托人用户名").fill("student1")
    approver.get_by_label("开始日期").fill(starts)
    approver.get_by_label("结束日期").fill(ends)
    approver.get_by_role("button", name="登记委托").click()

    # Then the page says why, in Chinese, and keeps what was entered
    expect(approver.get_by_role("alert")).to_contain_text("只能委托给本部门的其他审批人")
    expect(approver.get_by_label("受委托人用户名")).to_have_value("student1")
    expect(approver.get_by_label("结束日期")).to_have_value(ends)
    expect(approver.get_by_role("status")).to_have_count(0)

    # When the colleague is named instead / Then the delegation is recorded
    approver.get_by_label("受委托人用户名").fill("gzc-deputy")
    approver.get_by_role("button", name="登记委托").click()
    expect(approver.get_by_role("status")).to_contain_text("委托已登记")
