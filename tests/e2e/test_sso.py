"""统一身份认证 in a real browser: the gateway signs people in through a real OpenID provider
(oidc-provider from the npm registry, `tests/oidc/provider.js`), the authorization code flow
with PKCE; the first login provisions the account, the next ones find it by its subject."""

from __future__ import annotations

import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Request, Route, expect

from services.gateway.sso import CALLBACK_PATH, PENDING_COOKIE
from tests.support.gateway import Api, free_port, start_gateway
from tests.support.processes import ROOT, ProcessGroup

pytestmark = pytest.mark.integration

PROVIDER_DIR = ROOT / "tests" / "oidc"
SSO_BUTTON = "使用统一身份认证登录"
ZHANGSAN = "2019010001"  # the campus directory's 张三 of 国资处 (zhangsan)
LISI = "2019010002"  # 李四 of 图书馆, a department onetrip does not know
NAMESAKE = "2019010003"  # calls himself teacher1, the name of a local account


class OpenIdProvider:
    """``node provider.js``: a real OpenID provider on 127.0.0.1 with onetrip registered."""

    def __init__(self, port: int, redirect_uri: str, log: Path) -> None:
        node = shutil.which("node")
        assert node, "Node.js is needed (the machine has it; README: make test)"
        assert (PROVIDER_DIR / "node_modules" / "oidc-provider").is_dir(), "make test runs npm ci"
        self.issuer = f"http://127.0.0.1:{port}"
        self.proc = subprocess.Popen(
            [node, "provider.js", str(port), redirect_uri], cwd=PROVIDER_DIR, text=True,
            stdout=subprocess.PIPE, stderr=log.open("w"), env={"PATH": "/usr/bin:/bin"},
        )
        ready = threading.Event()
        threading.Thread(target=self._read, args=(ready,), daemon=True).start()
        assert ready.wait(30), f"the provider did not start; log:\n{log.read_text()[-2000:]}"

    def _read(self, ready: threading.Event) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith("ready "):
                ready.set()

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


@dataclass
class SsoHall:
    api: Api
    provider: OpenIdProvider


@pytest.fixture
def sso_hall(processes: ProcessGroup, tmp_path: Path) -> Iterator[SsoHall]:
    """The catalogue and the gateway, configured for the provider; then the provider, which
    registers the gateway's callback as onetrip's redirect URI."""
    provider_port = free_port()
    processes.start("catalogue").wait_for_queue("rpc-catalogue")
    _, api = start_gateway(
        processes,
        ONETRIP_OIDC_ISSUER=f"http://127.0.0.1:{provider_port}",
        ONETRIP_OIDC_CLIENT_ID="onetrip",
        ONETRIP_OIDC_CLIENT_SECRET="onetrip-test-client-secret",
    )
    provider = OpenIdProvider(provider_port, api.base_url + CALLBACK_PATH, tmp_path / "oidc.log")
    yield SsoHall(api, provider)
    provider.stop()


@dataclass
class Visit:
    """A browser of its own, and what it carried: the provider's answers to the gateway and
    the login under way (the pending cookie) when it left for the provider."""

    context: BrowserContext
    page: Page
    answers: list[str] = field(default_factory=list)
    pending: str = ""

    def seen(self, request: Request) -> None:
        if CALLBACK_PATH in request.url:
            self.answers.append(request.url)


def browse(browser: Browser, hall: SsoHall) -> Visit:
    context = browser.new_context(base_url=hall.api.base_url, locale="zh-CN")
    visit = Visit(context, context.new_page())
    visit.page.on("request", visit.seen)
    return visit


def sign_in_at_provider(visit: Visit, login: str) -> None:
    """From onetrip's login page, through the provider's own form (and its consent)."""
    page = visit.page
    page.goto("/login?next=/")
    page.get_by_role("link", name=SSO_BUTTON).click()
    page.locator("input[name=login]").fill(login)
    visit.pending = next(
        cookie["value"] for cookie in visit.context.cookies() if cookie["name"] == PENDING_COOKIE
    )
    page.locator("input[name=password]").fill("任意密码")
    page.get_by_role("button", name="Sign-in").click()
    page.wait_for_load_state()
    if page.get_by_role("button", name="Continue").count():
        page.get_by_role("button", name="Continue").click()
    page.wait_for_load_state()


def tamper_state(route: Route) -> None:
    """The way out to the provider, its ``state`` changed: the provider's answer comes back
    with a fresh code and a state this browser's login never had."""
    sent = route.fetch(max_redirects=0)
    location = sent.headers["location"].replace("state=", "state=x")
    route.fulfill(response=sent, headers={**sent.headers, "location": location})


def test_campus_single_sign_on_provisions_then_finds_the_account_by_its_subject(
    browser: Browser, sso_hall: SsoHall
) -> None:
    # Given the login page, configured for 统一身份认证
    visit = browse(browser, sso_hall)
    visit.page.goto("/login")
    expect(visit.page.get_by_role("link", name=SSO_BUTTON)).to_be_visible()

    # When 张三 signs in at the campus provider for the first time
    sign_in_at_provider(visit, ZHANGSAN)

    # Then he is back, signed in as the account provisioned for him, in 国资处
    page = visit.page
    assert page.url == sso_hall.api.base_url + "/", page.content()[:2000]
    expect(page.locator(".who")).to_contain_text("张三(国资处)")

    # When the provider's answer is presented again, with the login it belonged to
    cookie = {"name": PENDING_COOKIE, "value": visit.pending, "url": sso_hall.api.base_url}
    visit.context.add_cookies([cookie])
    replay = page.goto(visit.answers[-1])

    # Then the provider refuses the used code, and the gateway says so
    assert replay is not None and replay.status == 400
    expect(page.get_by_role("alert")).to_contain_text("授权码")
    visit.context.close()

    # When 张三, in another browser, comes back from the provider with a tampered state
    visit = browse(browser, sso_hall)
    visit.page.route(re.compile(r"/login/oidc\?"), tamper_state)
    sign_in_at_provider(visit, ZHANGSAN)

    # Then the login is refused, and the provider's answer cannot be used after that either
    page = visit.page
    expect(page.get_by_role("alert")).to_contain_text("登录状态校验失败")
    expect(page.locator(".who")).to_have_count(0)
    answered = visit.answers[-1].replace("state=x", "state=")
    refused = page.goto(answered)
    assert refused is not None and refused.status == 400
    expect(page.get_by_role("alert")).to_contain_text("登录请求已过期或已使用过")
    expect(page.locator(".who")).to_have_count(0)
    visit.context.close()

    # When 张三 signs in once more, in a new browser
    visit = browse(browser, sso_hall)
    sign_in_at_provider(visit, ZHANGSAN)

    # Then the account provisioned the first time is found by its subject
    expect(visit.page.locator(".who")).to_contain_text("张三(国资处)")
    visit.context.close()


def test_single_sign_on_never_takes_over_a_local_account_by_its_name(
    browser: Browser, sso_hall: SsoHall
) -> None:
    # Given someone at the provider whose preferred_username is a local account's, teacher1
    visit = browse(browser, sso_hall)

    # When he signs in through 统一身份认证
    sign_in_at_provider(visit, NAMESAKE)

    # Then he is refused: a subject is linked to an account by an administrator, never by name
    expect(visit.page.get_by_role("alert")).to_contain_text("本站已有账号 teacher1")
    expect(visit.page.locator(".who")).to_have_count(0)
    visit.context.close()

    # When the administrator links his subject to teacher1 through the API
    admin = sso_hall.api.as_user("admin")
    subject = f"/api/v1/sso/subjects/{NAMESAKE}"
    assert sso_hall.api.as_user("teacher1").put(subject, json={"username": "teacher1"}
                                                 ).status_code == 403
    linked = admin.put(subject, json={"username": "teacher1"})
    assert linked.status_code == 200, linked.text
    assert linked.json() == {"issuer": sso_hall.provider.issuer, "subject": NAMESAKE,
                             "username": "teacher1"}

    # Then signing in through 统一身份认证 opens teacher1's account, as it is
    visit = browse(browser, sso_hall)
    sign_in_at_provider(visit, NAMESAKE)
    expect(visit.page.locator(".who")).to_contain_text("李老师(航空学院)")
    visit.context.close()

    # When the administrator unlinks it again, the subject opens no account
    assert admin.request("DELETE", subject).json()["username"] is None
    assert admin.request("DELETE", subject).status_code == 404
    visit = browse(browser, sso_hall)
    sign_in_at_provider(visit, NAMESAKE)
    expect(visit.page.get_by_role("alert")).to_contain_text("本站已有账号 teacher1")
    visit.context.close()

    # When 李四, of a department onetrip does not know, signs in
    visit = browse(browser, sso_hall)
    sign_in_at_provider(visit, LISI)

    # Then her account is provisioned without a department, and no password opens it
    expect(visit.page.locator(".who")).to_contain_text("李四")
    expect(visit.page.locator(".who")).not_to_contain_text("()")  # no department, no empty brackets
    assert sso_hall.api.login("lisi", "任意密码").status_code == 401
    visit.context.close()
