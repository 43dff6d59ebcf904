"""Every page of the hall, as the person who opens it, checked by axe-core (vendored in the
axe-playwright-python package) against WCAG 2.1 A and AA: labels, names, contrast, landmarks,
language. At 1280 px and at a 375-px phone, where the layout differs."""

from __future__ import annotations

import re
from typing import Any

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Locator, Page, expect

from tests.e2e.conftest import Person
from tests.e2e.test_pages_guard import li_laoshi_case
from tests.support.gateway import DEMO_PASSWORD, Api
from tests.support.hall import every_page

WCAG_AA = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}


def pages(case_id: str) -> list[tuple[str | None, str]]:
    """Every page, and the error page a mistyped address shows."""
    return [*every_page(case_id), (None, "/no-such-page")]


def violations(axe: Axe, page: Page) -> list[str]:
    found: dict[str, Any] = axe.run(page, options=WCAG_AA).response
    return [
        f"{page.url} [{page.viewport_size['width'] if page.viewport_size else '?'} px] "
        f"{v['id']} ({v['impact']}): {v['help']} — "
        + "; ".join(node["html"][:160] for node in v["nodes"][:3])
        for v in found["violations"]
    ]


def test_every_page_meets_wcag_2_1_aa_as_axe_checks_it(person: Person, hall: Api) -> None:
    # Given a case in review, so the case, inbox and replay pages have content
    case_id = li_laoshi_case(hall)
    axe = Axe()
    people: dict[tuple[str | None, int], Page] = {}

    # When each page is opened by its person, on a desk and on a phone
    problems: list[str] = []
    for width in (1280, 375):
        for username, path in pages(case_id):
            if (username, width) not in people:
                people[(username, width)] = person(username, width=width)
            page = people[(username, width)]
            page.goto(path)
            page.wait_for_load_state("networkidle")
            problems += violations(axe, page)

    # Then axe finds nothing to fix
    assert not problems, "\n".join(problems)


def tab_to(page: Page, target: Locator, limit: int = 80) -> int:
    """Press Tab until the target has the focus; how many presses it took."""
    for presses in range(1, limit + 1):
        page.keyboard.press("Tab")
        if target.evaluate("element => element === document.activeElement"):
            return presses
    raise AssertionError(f"{target} not reached in {limit} presses of Tab")


def test_an_approver_signs_in_finds_the_case_and_returns_it_with_the_keyboard_alone(
    person: Person, hall: Api
) -> None:
    # Given 李老师's case waiting in 国资处's inbox, and a browser used without a mouse
    case_id = li_laoshi_case(hall)
    approver = person()
    approver.goto("/login")

    # When 国资处's approver signs in with the keyboard
    tab_to(approver, approver.get_by_label("用户名"))
    approver.keyboard.type("gzc")
    approver.keyboard.press("Tab")
    approver.keyboard.type(DEMO_PASSWORD)
    approver.keyboard.press("Enter")
    approver.wait_for_url(re.compile(r"/(cases|inbox)$"))

    # And reaches the case from the inbox, and the decision form, by Tab, Enter and arrows
    approver.goto("/inbox")
    tab_to(approver, approver.locator(f'main a[href="/cases/{case_id}"]'))
    approver.keyboard.press("Enter")
    approver.wait_for_url(f"**/cases/{case_id}")
    tab_to(approver, approver.get_by_role("radio", name="通过", exact=True))
    approver.keyboard.press("ArrowDown")
    expect(approver.get_by_role("radio", name="退回修改")).to_be_checked()
    approver.keyboard.press("Tab")
    approver.keyboard.type("请补充消防审批意见")
    approver.keyboard.press("Tab")
    submit = approver.get_by_role("button", name="提交决定")
    expect(submit).to_be_focused()
    # (where the focus is shows: a visible outline, not the browser's faint default)
    assert submit.evaluate("el => getComputedStyle(el).outlineStyle") == "solid"
    approver.keyboard.press("Enter")

    # Then the decision is taken
    expect(approver.get_by_role("status")).to_contain_text("审批决定已提交")
    case = hall.as_user("teacher1").get(f"/api/v1/cases/{case_id}").json()
    assert case["status"] == "returned", case
    assert "请补充消防审批意见" in str(case)
