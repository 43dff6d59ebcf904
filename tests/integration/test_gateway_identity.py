"""Identity in the gateway: demo accounts, tokens, throttled logins, and the directory over RPC."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import jwt
import psycopg
import pytest
import requests

from shared.caller import signed_cluster_rpc
from shared.config import DEFAULTS
from tests.support.gateway import DEMO_PASSWORD, Api, is_problem, start_gateway
from tests.support.processes import ProcessGroup, eventually, queue_consumers

pytestmark = pytest.mark.integration


def rpc_consumers(service_env: dict[str, str]) -> int:
    return queue_consumers(service_env["AMQP_URI"], "rpc-gateway")


def registered_accounts(database_url: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM gateway.identity_events WHERE topic LIKE %s",
            ("%Account.Registered",),
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_a_demo_editor_logs_in_and_the_token_says_who_they_are(processes: ProcessGroup) -> None:
    # Given a gateway started with the demo data
    _, api = start_gateway(processes)
    # When 国资处's approver logs in with the demo password
    response = api.login("gzc")
    # Then a token and the user come back, and the token opens /me
    assert response.status_code == 200, response.text
    session = response.json()
    assert session["user"] == {
        "username": "gzc",
        "name": "国资处审批员",
        "department": "gzc",
        "roles": ["approver", "editor"],
    }
    me = Api(api.base_url, session["token"]).get("/api/v1/me")
    assert me.status_code == 200
    assert me.json() == session["user"]


def test_no_token_a_forged_token_and_an_expired_token_are_each_401(processes: ProcessGroup) -> None:
    # Given a running gateway and tokens that are not what it signed
    _, api = start_gateway(processes)
    forged = jwt.encode(
        {
            "sub": "admin",
            "iss": "onetrip",
            "iat": datetime.now(UTC),
            "exp": datetime.now(UTC) + timedelta(hours=1),
        },
        "a-key-the-gateway-does-not-have-at-all",
        algorithm="HS256",
    )
    long_ago = datetime.now(UTC) - timedelta(hours=9)
    expired = jwt.encode(
        {"sub": "gzc", "iss": "onetrip", "iat": long_ago, "exp": long_ago + timedelta(hours=8)},
        DEFAULTS["ONETRIP_SECRET_KEY"],
        algorithm="HS256",
    )
    # When each asks who they are
    answers = {
        "none": api.get("/api/v1/me"),
        "garbage": api.get("/api/v1/me", headers={"Authorization": "Bearer not.a.token"}),
        "basic": api.get("/api/v1/me", headers={"Authorization": "Basic Z3pjOmd6Yw=="}),
        "forged": Api(api.base_url, forged).get("/api/v1/me"),
        "expired": Api(api.base_url, expired).get("/api/v1/me"),
    }
    # Then every one is a 401 problem
    assert {name: is_problem(r, 401) for name, r in answers.items()} == dict.fromkeys(answers, True)
    assert "过期" in answers["expired"].json()["detail"]


def test_a_wrong_password_is_401_and_the_sixth_try_within_15_minutes_is_429_on_any_gateway(
    processes: ProcessGroup,
) -> None:
    # Given two gateway instances sharing one database
    _, first = start_gateway(processes, label="gateway-a")
    _, second = start_gateway(processes, label="gateway-b")
    # When someone guesses 国资处's password five times, alternating between them
    guesses = [(first, second)[n % 2].login("gzc", f"guess-{n}") for n in range(5)]
    # Then each guess is a 401, and the sixth attempt is refused even with the right password
    assert [r.status_code for r in guesses] == [401] * 5
    assert all(is_problem(r, 401) for r in guesses)
    sixth = second.login("gzc")
    assert is_problem(sixth, 429), sixth.text
    assert int(sixth.headers["Retry-After"]) > 0
    # And another account is not affected
    assert first.login("jjc").status_code == 200


def test_a_successful_login_clears_the_failures(processes: ProcessGroup) -> None:
    # Given 基建处's approver mistyped the password four times
    _, api = start_gateway(processes)
    assert [api.login("jjc", "wrong").status_code for _ in range(4)] == [401] * 4
    # When they log in correctly
    assert api.login("jjc").status_code == 200
    # Then the count starts again: five more mistakes are 401, not 429
    assert [api.login("jjc", "wrong").status_code for _ in range(5)] == [401] * 5


def test_two_gateways_starting_together_seed_the_demo_accounts_once(
    processes: ProcessGroup, service_env: dict[str, str]
) -> None:
    # Given two gateways started at the same moment on an empty database
    first = processes.start("gateway", label="gateway-a", PORT="0")
    second = processes.start("gateway", label="gateway-b", PORT="0")
    # When both have finished starting (each consumes its RPC queue only after seeding)
    eventually(
        lambda: first.alive() and second.alive() and rpc_consumers(service_env) == 2, timeout=60
    )
    # Then exactly the fourteen demo accounts exist
    assert registered_accounts(service_env["DATABASE_URL"]) == 14
    # And a restart adds nothing
    first.stop()
    _, api = start_gateway(processes, label="gateway-c")
    assert api.login("office").status_code == 200
    assert registered_accounts(service_env["DATABASE_URL"]) == 14


def test_without_demo_data_no_account_and_no_demo_password_exist(
    processes: ProcessGroup, service_env: dict[str, str]
) -> None:
    # Given a gateway started with ONETRIP_DEMO=0
    _, api = start_gateway(processes, ONETRIP_DEMO="0")
    # When the demo editor tries the demo password
    response = api.login("gzc")
    # Then there is no such account
    assert is_problem(response, 401)
    assert registered_accounts(service_env["DATABASE_URL"]) == 0


def test_other_services_find_contacts_and_department_members_over_rpc(
    processes: ProcessGroup, service_env: dict[str, str]
) -> None:
    # Given a gateway with the demo accounts, listening for RPC
    gateway, _ = start_gateway(processes)
    gateway.wait_for_queue("rpc-gateway")
    with signed_cluster_rpc(service_env["AMQP_URI"], issuer="notify", timeout=20) as rpc:
        # When notify asks for 国资处's approvers and a teacher's contact
        approvers = rpc.gateway.department_members("gzc", role="approver")
        school = rpc.gateway.department_members("hkxy")
        reviewers_of_gzc = rpc.gateway.department_members("gzc", role="reviewer")
        contact = rpc.gateway.contact("teacher1")
    # Then it learns who to tell and how
    assert approvers == ["gzc"]
    assert school == ["student1", "teacher1", "teacher2"]
    assert reviewers_of_gzc == []
    assert contact == {
        "username": "teacher1",
        "name": "李老师",
        "department": "hkxy",
        "phone": "13800000001",
        "email": None,
    }


def test_twenty_simultaneous_guesses_get_exactly_five_password_checks(
    processes: ProcessGroup,
) -> None:
    # Given two gateways, and twenty wrong passwords for 保密处 sent at the same moment
    _, first = start_gateway(processes, label="gateway-a")
    _, second = start_gateway(processes, label="gateway-b")
    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(
            pool.map(lambda n: (first, second)[n % 2].login("bmc", f"guess-{n}"), range(20))
        )
    # Then exactly five were checked (401) and fifteen refused outright (429)
    codes = sorted(r.status_code for r in answers)
    assert codes == [401] * 5 + [429] * 15


def login_page_cookies(api: Api, **headers: str) -> dict[str, str]:
    """Sign in through the login form; the Set-Cookie lines by cookie name. (The cookies go
    back by hand: a client over plain HTTP would rightly not return Secure ones.)"""
    page = requests.get(api.base_url + "/login", headers=headers, timeout=10)
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text)
    assert page.status_code == 200 and token is not None, page.text[:500]
    form = {"username": "teacher1", "password": DEMO_PASSWORD, "csrf_token": token.group(1)}
    signed_in = requests.post(
        api.base_url + "/login",
        data=form,
        headers=headers,
        cookies=dict(page.cookies),
        allow_redirects=False,
        timeout=10,
    )
    assert signed_in.status_code == 303, signed_in.text[:500]
    lines = page.raw.headers.getlist("Set-Cookie") + signed_in.raw.headers.getlist("Set-Cookie")
    return {line.split("=", 1)[0]: line for line in lines}


def test_cookies_are_secure_behind_an_https_proxy_and_always_when_configured(
    processes: ProcessGroup,
) -> None:
    # Given a gateway with the default setting (auto)
    _, api = start_gateway(processes)

    # When a browser signs in over plain HTTP, and again through a proxy that terminated HTTPS
    plain = login_page_cookies(api)
    proxied = login_page_cookies(api, **{"X-Forwarded-Proto": "https"})

    # Then only the HTTPS visit's cookies are Secure; both are HttpOnly and SameSite=Lax
    assert {"onetrip_session", "onetrip_csrf"} <= set(plain) and set(plain) == set(proxied)
    for line in plain.values():
        assert "HttpOnly" in line and "SameSite=Lax" in line and "Secure" not in line, line
    for line in proxied.values():
        assert "HttpOnly" in line and "SameSite=Lax" in line and "Secure" in line, line

    # And with ONETRIP_SECURE_COOKIES=1 the cookies are Secure whatever the request says
    _, always = start_gateway(processes, label="gateway-secure", ONETRIP_SECURE_COOKIES="1")
    assert all("Secure" in line for line in login_page_cookies(always).values())
