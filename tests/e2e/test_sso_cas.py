"""统一身份认证 over CAS 3.0 in a real browser, against a small CAS server that answers the
protocol's documented responses (`/login`, `/p3/serviceValidate`: the success and failure XML
of the CAS 3.0 specification), its service tickets valid once, for one service."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape as xml_escape

import pytest
from playwright.sync_api import Browser, expect

from services.gateway.cas import CAS_CALLBACK_PATH
from services.gateway.sso import (
    PENDING_COOKIE,
)
from tests.support.gateway import Api, start_gateway
from tests.support.processes import ProcessGroup

pytestmark = pytest.mark.integration

CAS_BUTTON = "使用统一身份认证(CAS)登录"
DIRECTORY = {"wangwu": {"name": "王五", "department": "保卫处"}}
SUCCESS = """<cas:serviceResponse xmlns:cas="http://www.yale.edu/tp/cas">
  <cas:authenticationSuccess>
    <cas:user>{user}</cas:user>
    <cas:attributes>
      <cas:name>{name}</cas:name>
      <cas:department>{department}</cas:department>
    </cas:attributes>
  </cas:authenticationSuccess>
</cas:serviceResponse>"""
FAILURE = """<cas:serviceResponse xmlns:cas="http://www.yale.edu/tp/cas">
  <cas:authenticationFailure code="{code}">{why}</cas:authenticationFailure>
</cas:serviceResponse>"""


class CasServer(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), CasHandler)
        self.tickets: dict[str, tuple[str, str]] = {}  # ticket → (service, user)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/cas"


class CasHandler(BaseHTTPRequestHandler):
    server: CasServer

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = {key: values[0] for key, values in parse_qs(url.query).items()}
        if url.path == "/cas/login":
            self._answer("text/html; charset=utf-8", LOGIN_FORM.format(
                service=escape(query.get("service", ""))))
        elif url.path == "/cas/p3/serviceValidate":
            self._answer("application/xml; charset=utf-8", self._validated(query))
        else:
            self.send_error(404)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        ticket = f"ST-{secrets.token_hex(12)}"
        self.server.tickets[ticket] = (form["service"], form["username"])
        joiner = "&" if "?" in form["service"] else "?"
        self.send_response(303)
        self.send_header("Location", f"{form['service']}{joiner}ticket={ticket}")
        self.end_headers()

    def _validated(self, query: dict[str, str]) -> str:
        issued = self.server.tickets.pop(query.get("ticket", ""), None)  # valid once
        if issued is None:
            return FAILURE.format(code="INVALID_TICKET",
                                  why=f"Ticket {xml_escape(query.get('ticket', ''))} not recognized")
        service, user = issued
        if service != query.get("service"):
            return FAILURE.format(code="INVALID_SERVICE", why="Ticket was issued for another service")
        person = DIRECTORY.get(user, {"name": user, "department": ""})
        return SUCCESS.format(user=xml_escape(user), **{k: xml_escape(v) for k, v in person.items()})

    def _answer(self, content_type: str, body: str) -> None:
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass


LOGIN_FORM = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<title>统一身份认证</title></head><body><form method="post" action="/cas/login">
<input type="hidden" name="service" value="{service}">
<label for="username">学号/工号</label><input id="username" name="username">
<button type="submit">登录 CAS</button></form></body></html>"""


@dataclass
class CasHall:
    api: Api
    cas: CasServer


@pytest.fixture
def cas_hall(processes: ProcessGroup, tmp_path: Path) -> Iterator[CasHall]:
    cas = CasServer()
    threading.Thread(target=cas.serve_forever, daemon=True).start()
    processes.start("catalogue").wait_for_queue("rpc-catalogue")
    _, api = start_gateway(processes, ONETRIP_CAS_URL=cas.url)
    yield CasHall(api, cas)
    cas.shutdown()


def test_cas_login_provisions_once_and_refuses_a_used_ticket(
    browser: Browser, cas_hall: CasHall
) -> None:
    # Given the login page, configured for a CAS server
    context = browser.new_context(base_url=cas_hall.api.base_url, locale="zh-CN")
    page = context.new_page()
    answers: list[str] = []
    page.on("request", lambda r: answers.append(r.url) if CAS_CALLBACK_PATH in r.url else None)
    page.goto("/login?next=/")

    # When 王五 signs in at the CAS server
    page.get_by_role("link", name=CAS_BUTTON).click()
    page.get_by_label("学号/工号").fill("wangwu")
    pending = next(c["value"] for c in context.cookies() if c["name"] == PENDING_COOKIE)
    page.get_by_role("button", name="登录 CAS").click()

    # Then he is back, signed in as the account provisioned for him, in 保卫处
    expect(page.locator(".who")).to_contain_text("王五(保卫处)")
    assert page.url == cas_hall.api.base_url + "/"

    # When the ticket is presented again, with the login it belonged to
    context.add_cookies([{"name": PENDING_COOKIE, "value": pending, "url": cas_hall.api.base_url}])
    replay = page.goto(answers[-1])

    # Then the CAS server's INVALID_TICKET is a refusal
    assert replay is not None and replay.status == 400
    expect(page.get_by_role("alert")).to_contain_text("INVALID_TICKET")
    context.close()

    # When 王五 signs in again in another browser
    context = browser.new_context(base_url=cas_hall.api.base_url, locale="zh-CN")
    page = context.new_page()
    page.goto("/login?next=/")
    page.get_by_role("link", name=CAS_BUTTON).click()
    page.get_by_label("学号/工号").fill("wangwu")
    page.get_by_role("button", name="登录 CAS").click()

    # Then the same account opens, found by its subject
    expect(page.locator(".who")).to_contain_text("王五(保卫处)")
    context.close()
