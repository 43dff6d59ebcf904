"""The pages under their Content-Security-Policy in a real browser: every page shows and works
with nothing refused, and no other site can put the hall in a frame."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, ConsoleMessage, Page, expect

from tests.e2e.conftest import CSP_VIOLATION, Person, reload_until
from tests.e2e.test_pages_guard import li_laoshi_case
from tests.support.gateway import Api
from tests.support.hall import every_page


def test_every_page_shows_under_its_policy_with_nothing_refused(person: Person, hall: Api) -> None:
    # Given 李老师's case in review, and each page of the hall opened by the person it is for,
    # the browser's console watched for what the policy refuses
    case_id = li_laoshi_case(hall)
    refused: list[str] = []
    people: dict[str | None, Page] = {}

    def watch(message: ConsoleMessage) -> None:
        if message.type == "error" and CSP_VIOLATION in message.text:
            refused.append(message.text)

    # When each page is opened
    for username, path in [*every_page(case_id), (None, "/no-such-page")]:
        if username not in people:
            people[username] = person(username)
            people[username].on("console", watch)
        page = people[username]
        reply = page.goto(path)

        # Then it carries the policy, and nothing on it was refused
        assert reply is not None and reply.status < 500, path
        policy = reply.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in policy and "unsafe-inline" not in policy, path
    assert refused == []

    # And the dashboard's bars are drawn without an inline style
    supervisor = person("discipline")
    supervisor.on("console", watch)
    bars = reload_until(supervisor, "/supervision", supervisor.locator("ol.bars svg.bar rect"))
    assert bars.count() >= 1 and bars.first.get_attribute("width") is not None
    assert refused == []


def test_the_error_page_goes_back_with_its_script_allowed(person: Person) -> None:
    # Given a visitor on the login page who then mistypes an address
    visitor = person()
    visitor.goto("/login")
    visitor.goto("/no-such-page")

    # When they follow 返回上一页
    visitor.get_by_role("link", name="返回上一页").click()

    # Then the hall's own script takes them back where they were (without it: the front page)
    expect(visitor).to_have_url(re.compile(r"/login$"))
    expect(visitor.get_by_label("用户名")).to_be_visible()


def test_no_other_site_can_frame_the_hall(browser: Browser, hall: Api) -> None:
    # Given a page of another site that puts the hall's login page in a frame
    context = browser.new_context()
    refused: list[str] = []
    context.on("console", lambda message: refused.append(message.text))
    page = context.new_page()
    page.set_content(f'<iframe id="hall" src="{hall.base_url}/login" title="hall"></iframe>')

    # When the frame has had its time to load
    page.wait_for_timeout(1500)

    # Then the browser refused it: the login form is not in the frame
    frame = page.frame_locator("#hall")
    expect(frame.get_by_label("用户名")).to_have_count(0)
    assert any("frame-ancestors" in text for text in refused), refused
    context.close()
