"""The gateway's doors tried from outside: where a login may lead, how much body a request may
send before anything reads it, the headers every answer carries, the CSRF token bound to its
session, and login throttling per client address."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import requests

from tests.support.gateway import DEMO_PASSWORD, Api, is_problem, start_gateway
from tests.support.hall import ITEM, PDF, upload
from tests.support.processes import ProcessGroup

pytestmark = pytest.mark.integration

TOKEN = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')
MB = 1024 * 1024


@pytest.fixture
def gateway(processes: ProcessGroup) -> Api:
    _, api = start_gateway(processes)
    return api


def page_token(browser: requests.Session, api: Api, path: str) -> str:
    page = browser.get(api.base_url + path, timeout=10)
    found = TOKEN.search(page.text)
    assert page.status_code == 200 and found is not None, page.text[:500]
    return found.group(1)


def signed_in(api: Api, username: str) -> requests.Session:
    """A browser that logged in through the login form."""
    browser = requests.Session()
    form = {"username": username, "password": DEMO_PASSWORD}
    form["csrf_token"] = page_token(browser, api, "/login")
    answer = browser.post(api.base_url + "/login", data=form, allow_redirects=False, timeout=10)
    assert answer.status_code == 303, answer.text[:500]
    return browser


# -- next= -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "/\t/evil.example",  # the browser drops the tab: //evil.example
        "/\n/evil.example",
        "/cases\r\nSet-Cookie: onetrip_session=forged",
        "//evil.example",
        "/\\evil.example",
        "https://evil.example/",
        "/%09/evil.example",
        "javascript:alert(1)",
    ],
)
def test_after_login_only_a_path_on_this_site_is_followed(gateway: Api, target: str) -> None:
    # Given 李老师 opens a login link whose next= leads elsewhere
    browser = requests.Session()
    login = browser.get(gateway.base_url + "/login", params={"next": target}, timeout=10)
    assert login.status_code == 200, login.text[:300]
    assert 'name="next" value=""' in login.text

    # When she logs in with that next= in the form
    form = {"username": "teacher1", "password": DEMO_PASSWORD, "next": target}
    form["csrf_token"] = TOKEN.search(login.text).group(1)  # type: ignore[union-attr]
    answer = browser.post(gateway.base_url + "/login", data=form, allow_redirects=False, timeout=10)

    # Then she lands on her own home page of the hall, on this site
    assert answer.status_code == 303, answer.text[:300]
    assert answer.headers["Location"] == "/cases"
    assert "forged" not in answer.headers.get("Set-Cookie", "")


def test_a_path_on_this_site_is_followed_after_login(gateway: Api) -> None:
    # Given a login link back to page 2 of 我的办件
    browser = requests.Session()
    form = {"username": "teacher1", "password": DEMO_PASSWORD, "next": "/cases?page=2"}
    form["csrf_token"] = page_token(browser, gateway, "/login?next=/cases%3Fpage%3D2")
    # When she logs in
    answer = browser.post(gateway.base_url + "/login", data=form, allow_redirects=False, timeout=10)
    # Then she is taken there
    assert (answer.status_code, answer.headers["Location"]) == (303, "/cases?page=2")


# -- bodies --------------------------------------------------------------------------------------


class RawClient:
    """A client speaking HTTP/1.1 by hand, to send what a library would not: a body far larger
    than it means to send, or one streamed without a length."""

    def __init__(self, api: Api) -> None:
        url = urlsplit(api.base_url)
        self.sock = socket.create_connection((url.hostname, url.port), timeout=20)

    def send_head(self, method: str, path: str, headers: dict[str, str]) -> None:
        lines = [f"{method} {path} HTTP/1.1", "Host: hall.example"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())

    def send_while_listened(self, chunks: Iterator[bytes]) -> int:
        """Sends until the server stops reading (it answered and closed); the bytes sent."""
        sent = 0
        for chunk in chunks:
            try:
                self.sock.sendall(chunk)
            except OSError:  # the server closed the connection: it read no further
                break
            sent += len(chunk)
        return sent

    def answer(self) -> tuple[int, dict[str, str], bytes]:
        data = b""
        while b"\r\n\r\n" not in data:
            received = self.sock.recv(65536)
            assert received, f"connection closed without an answer: {data!r}"
            data += received
        head, _, body = data.partition(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        fields = (line.partition(":") for line in header_lines)
        headers = {name.lower(): value.strip() for name, _, value in fields}
        while len(body) < int(headers.get("content-length", "0")):
            received = self.sock.recv(65536)
            if not received:
                break
            body += received
        return int(status_line.split()[1]), headers, body

    def closed_by_server(self) -> bool:
        try:
            while self.sock.recv(65536):
                pass
        except ConnectionResetError:
            pass
        return True

    def close(self) -> None:
        self.sock.close()


def multipart_head(first_part: str) -> bytes:
    return (
        f'--XX\r\nContent-Disposition: form-data; name="{first_part}"; filename="a.pdf"\r\n'
        "Content-Type: application/pdf\r\n\r\n"
    ).encode()


def test_a_form_declaring_300_mb_is_refused_before_its_body_is_read(gateway: Api) -> None:
    # Given an anonymous client announcing a 300 MB form to the login page
    client = RawClient(gateway)
    started = time.monotonic()
    client.send_head(
        "POST",
        "/login",
        {"Content-Type": "multipart/form-data; boundary=XX", "Content-Length": str(300 * MB)},
    )
    client.send_while_listened(iter([multipart_head("file"), b"0" * 65536]))

    # When the gateway answers: at once, in Chinese, and it reads no more of the body
    status, headers, body = client.answer()
    assert status == 413
    assert headers["content-type"].startswith("text/html")
    assert "请求内容过大" in body.decode()
    assert headers.get("connection") == "close" and client.closed_by_server()
    assert time.monotonic() - started < 15
    client.close()


def test_a_json_body_streamed_without_a_length_stops_at_one_megabyte(gateway: Api) -> None:
    # Given a client streaming an endless chunked body to the login API
    client = RawClient(gateway)
    client.send_head(
        "POST",
        "/api/v1/session",
        {"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
    )
    chunk = b"%x\r\n%s\r\n" % (65536, b" " * 65536)

    # When it has sent up to 20 MB
    sent = client.send_while_listened(chunk for _ in range(320))

    # Then the answer is 413 problem+json, and the gateway stopped reading near the limit
    status, headers, body = client.answer()
    assert status == 413 and headers["content-type"].startswith("application/problem+json")
    assert "1 MB" in body.decode()
    assert sent < 20 * MB
    client.close()


def test_a_page_form_streamed_without_a_length_stops_at_its_limit(gateway: Api) -> None:
    # Given a browser-like client streaming a form to the login page in chunks
    client = RawClient(gateway)
    client.send_head(
        "POST",
        "/login",
        {"Content-Type": "application/x-www-form-urlencoded", "Transfer-Encoding": "chunked"},
    )
    chunk = b"%x\r\n%s\r\n" % (65536, b"a" * 65536)
    client.send_while_listened(chunk for _ in range(320))

    # Then the page answers 413 in Chinese, not a 403 after reading it all
    status, _, body = client.answer()
    assert status == 413 and "请求内容过大" in body.decode()
    client.close()


def test_a_multipart_form_whose_first_part_is_not_its_token_is_refused_unread(
    gateway: Api,
) -> None:
    # Given a signed-in applicant's browser, and another site posting a 60 MB apply form
    # (within the apply form's limit) with the files first and no token in front
    browser = signed_in(gateway, "teacher1")
    client = RawClient(gateway)
    cookies = "; ".join(f"{name}={value}" for name, value in browser.cookies.items())
    client.send_head(
        "POST",
        f"/items/{ITEM}/apply",
        {
            "Content-Type": "multipart/form-data; boundary=XX",
            "Content-Length": str(60 * MB),
            "Cookie": cookies,
        },
    )
    client.send_while_listened(iter([multipart_head("file-0"), b"0" * 65536]))

    # Then it is refused after its first part, without waiting for the rest
    status, _, body = client.answer()
    assert status == 403 and "校验码" in body.decode()
    assert client.closed_by_server()
    client.close()


def test_the_upload_api_refuses_a_file_over_the_limit_streamed_without_a_length(
    processes: ProcessGroup,
) -> None:
    # Given a gateway taking uploads of at most 1 MB, and 李老师 signed in
    _, api = start_gateway(processes, ONETRIP_MAX_UPLOAD_MB="1")
    teacher = api.as_user("teacher1")

    # When she streams a 3 MB file without a Content-Length
    def chunks() -> Iterator[bytes]:
        yield b'--XX\r\nContent-Disposition: form-data; name="file"; filename="a.pdf"\r\n\r\n'
        yield PDF
        for _ in range(48):
            yield b"0" * 65536

    answer = requests.post(
        api.base_url + "/api/v1/files",
        data=chunks(),
        headers={
            "Authorization": f"Bearer {teacher.token}",
            "Content-Type": "multipart/form-data; boundary=XX",
        },
        timeout=30,
    )

    # Then it is 413 problem+json; and a small file still goes in
    assert is_problem(answer, 413), answer.text
    assert upload(teacher, "结构图.pdf", PDF)


# -- the CSRF token ----------------------------------------------------------------------------


def test_a_csrf_token_from_one_session_works_in_no_other(gateway: Api) -> None:
    # Given 李老师 and 王老师 signed in in their own browsers, and 李老师's logout form's token
    li = signed_in(gateway, "teacher1")
    wang = signed_in(gateway, "teacher2")
    li_token = page_token(li, gateway, "/logout")

    # When a page of another site plants 李老师's CSRF cookie in 王老师's browser and posts
    # her token there
    own_cookie = next(cookie for cookie in wang.cookies if cookie.name == "onetrip_csrf")
    wang.cookies.set(
        "onetrip_csrf", li.cookies["onetrip_csrf"], domain=own_cookie.domain, path=own_cookie.path
    )
    assert wang.cookies["onetrip_csrf"] == li.cookies["onetrip_csrf"]
    logout = gateway.base_url + "/logout"
    planted = wang.post(logout, data={"csrf_token": li_token}, allow_redirects=False, timeout=10)

    # Then it is refused; in her own session the same token works
    assert planted.status_code == 403 and "校验码" in planted.text
    own = li.post(logout, data={"csrf_token": li_token}, allow_redirects=False, timeout=10)
    assert own.status_code == 303


# -- login throttling per address ------------------------------------------------------------------


def test_password_spraying_from_one_address_is_throttled_on_every_gateway(
    processes: ProcessGroup,
) -> None:
    # Given two gateways allowing 8 failed logins per address in 15 minutes, the second behind
    # a trusted proxy at 127.0.0.1
    _, first = start_gateway(processes, label="gateway-a", ONETRIP_LOGIN_ADDRESS_LIMIT="8")
    _, second = start_gateway(
        processes,
        label="gateway-b",
        ONETRIP_LOGIN_ADDRESS_LIMIT="8",
        ONETRIP_TRUSTED_PROXIES="127.0.0.1/32, ::1",
    )
    accounts = ["gzc", "jjc", "xxh", "hq", "bwc", "bmc", "cwc", "office"]

    # When one address tries one common password on eight accounts (each account's own
    # limit of five is far away), and then a ninth
    tries = [first.login(username, "123456") for username in accounts]
    ninth = first.login("party", "123456")

    # Then the eight are 401 and the ninth is 429 with Retry-After, even with the right
    # password, even saying it comes from elsewhere (X-Forwarded-For from an untrusted peer)
    assert [answer.status_code for answer in tries] == [401] * 8
    assert is_problem(ninth, 429) and int(ninth.headers["Retry-After"]) > 0
    assert first.login("teacher1").status_code == 429
    spoofed = first.post(
        "/api/v1/session",
        json={"username": "teacher1", "password": DEMO_PASSWORD},
        headers={"X-Forwarded-For": "203.0.113.9"},
    )
    assert spoofed.status_code == 429

    # And the count is shared: the second gateway refuses the same address too
    assert second.login("teacher1").status_code == 429

    # And behind the trusted proxy, another client address logs in as usual
    proxied = second.post(
        "/api/v1/session",
        json={"username": "teacher1", "password": DEMO_PASSWORD},
        headers={"X-Forwarded-For": "198.51.100.4, 203.0.113.9"},
    )
    assert proxied.status_code == 200, proxied.text


def test_the_login_page_says_so_in_chinese_with_retry_after(processes: ProcessGroup) -> None:
    # Given a gateway allowing 2 failed logins per address
    _, api = start_gateway(processes, ONETRIP_LOGIN_ADDRESS_LIMIT="2")
    for username in ("gzc", "jjc"):
        assert api.login(username, "123456").status_code == 401

    # When a third account is tried through the login page
    browser = requests.Session()
    form = {"username": "xxh", "password": "123456"}
    form["csrf_token"] = page_token(browser, api, "/login")
    answer = browser.post(api.base_url + "/login", data=form, allow_redirects=False, timeout=10)

    # Then the page answers 429 in Chinese, with Retry-After
    assert answer.status_code == 429
    assert "登录失败次数过多" in answer.text and int(answer.headers["Retry-After"]) > 0


def test_successful_logins_from_one_address_do_not_use_up_its_allowance(
    processes: ProcessGroup,
) -> None:
    # Given a gateway allowing 3 failed logins per address (many people behind one campus NAT)
    _, api = start_gateway(processes, ONETRIP_LOGIN_ADDRESS_LIMIT="3")

    # When ten people log in correctly from it, and one mistypes twice
    people = ("teacher1", "teacher2", "student1", "gzc", "jjc", "xxh", "hq", "bwc", "bmc", "cwc")
    signed = [api.login(username).status_code for username in people]
    mistakes = [api.login("office", "typo").status_code for _ in range(2)]

    # Then everyone got in, and the mistakes were only 401
    assert signed == [200] * 10 and mistakes == [401, 401]
    assert api.login("office").status_code == 200


# -- headers ---------------------------------------------------------------------------------------


def test_every_answer_is_nosniff_unframeable_and_pages_carry_their_policy(hall: Api) -> None:
    # Given the hall running, 李老师 with an uploaded drawing, and 国资处's editor
    teacher = hall.as_user("teacher1")
    file_id = upload(teacher, "改造前结构图.pdf", PDF)
    gzc = hall.as_user("gzc")

    # When answers of every kind are fetched: API, problem, flow chart, file, sheet, pages
    answers = {
        "items": hall.get("/api/v1/items"),
        "problem": hall.get("/api/v1/no-such-thing"),
        "unauthorized": hall.login("teacher1", "wrong"),
        "flowchart": hall.get(f"/api/v1/items/{ITEM}/flowchart.svg"),
        "file": teacher.get(f"/api/v1/files/{file_id}"),
        "sheet": gzc.get("/api/v1/catalogue.xlsx"),
        "static": hall.get("/static/hall.js"),
        "page": hall.get(f"/items/{ITEM}"),
        "missing page": hall.get("/no/such/page"),
        "login": hall.get("/login"),
    }

    # Then each is nosniff, never framed, sends no referrer elsewhere
    for name, answer in answers.items():
        assert answer.status_code < 500, (name, answer.text[:300])
        assert answer.headers["X-Content-Type-Options"] == "nosniff", name
        assert answer.headers["Referrer-Policy"] == "same-origin", name
        assert answer.headers["X-Frame-Options"] == "DENY", name
        assert "frame-ancestors 'none'" in answer.headers["Content-Security-Policy"], name

    # And pages allow only this site's own script, style and images; nothing else allows anything
    for name in ("page", "missing page", "login"):
        policy = answers[name].headers["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "style-src 'self'" in policy, name
        assert "unsafe-inline" not in policy, name
    for name in ("items", "problem", "flowchart", "file", "sheet", "static"):
        assert answers[name].headers["Content-Security-Policy"].startswith("default-src 'none'"), name
