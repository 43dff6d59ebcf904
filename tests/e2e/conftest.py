"""The hall in a real browser: Debian's Chromium driven by Playwright, one context per person."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Locator,
    Page,
    sync_playwright,
)

from tests.support.gateway import DEMO_PASSWORD, Api
from tests.support.hall import running_hall
from tests.support.processes import ProcessGroup

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def hall(processes: ProcessGroup, service_env: dict[str, str], tmp_path: Path) -> Iterator[Api]:
    """Catalogue, approval, audit and the gateway with the demo data, the items learnt.
    The audit service starts first so its ledger hears every event of the story."""
    processes.start("audit", ONETRIP_AUDIT_CHECKPOINT=str(tmp_path / "checkpoint.json"))
    processes.processes[-1].wait_for_queue("rpc-audit")
    yield from running_hall(processes)


Person = Callable[..., Page]


CSP_VIOLATION = "Content Security Policy"


@pytest.fixture
def person(browser: Browser, hall: Api) -> Iterator[Person]:
    """``person("teacher1")``: a browser context of its own, signed in through the login page.
    Every page it opens is watched: what the pages' Content-Security-Policy refused (an inline
    script or style, a handler) fails the test."""
    contexts: list[BrowserContext] = []
    refused: list[str] = []

    def watch(message: ConsoleMessage) -> None:
        if message.type == "error" and CSP_VIOLATION in message.text:
            refused.append(f"{message.location.get('url')}: {message.text}")

    def open_as(username: str | None = None, width: int = 1280) -> Page:
        context = browser.new_context(
            base_url=hall.base_url, viewport={"width": width, "height": 900}, locale="zh-CN"
        )
        context.on("console", watch)
        contexts.append(context)
        page = context.new_page()
        if username is not None:
            log_in(page, username)
        return page

    yield open_as
    for context in contexts:
        context.close()
    assert not refused, "the pages' CSP refused:\n" + "\n".join(refused)


def log_in(page: Page, username: str) -> None:
    page.goto("/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_load_state()
    assert "/login" not in page.url, page.content()[:2000]


def reload_until(page: Page, path: str, shown: Locator, attempts: int = 120) -> Locator:
    """The pages read models that the bus feeds: what a step just did shows up within moments.
    Open ``path`` again until ``shown`` is on it, and return it."""
    for _ in range(attempts):
        page.goto(path)
        if shown.count():
            return shown
        page.wait_for_timeout(250)
    raise AssertionError(f"{path} never showed it; the page said:\n{page.locator('main').inner_text()}")
