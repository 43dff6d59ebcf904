from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from services.gateway.application import IdentityApplication
from services.gateway.auth import LocalPasswordProvider, User
from services.gateway.demo import DEMO_ACCOUNTS
from services.gateway.http import UnauthorizedError
from services.gateway.identity import Identity
from services.gateway.models import AccountDraft
from services.gateway.passwords import hash_password
from services.gateway.throttle import LoginPolicy, Window
from services.gateway.tokens import TokenIssuer
from shared.errors import RateLimitedError

GZC = next(draft for draft in DEMO_ACCOUNTS if draft.username == "gzc")
TOKENS = TokenIssuer("a-secret-long-enough-for-hs256-signing", timedelta(hours=8))


class MemoryThrottle:
    """The throttle's policy with windows kept in a dict instead of PostgreSQL."""

    def __init__(self) -> None:
        self.policy = LoginPolicy()
        self.windows: dict[str, Window] = {}

    def attempt(self, username: str, now: datetime | None = None) -> Window:
        window = self.policy.count(self.windows.get(username), now or datetime.now(UTC))
        self.windows[username] = window
        return window

    def clear(self, username: str, now: datetime | None = None) -> None:
        self.windows.pop(username, None)


@pytest.fixture
def accounts() -> Iterator[IdentityApplication]:
    app = IdentityApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    app.register(GZC, hash_password("onetrip-demo"), actor="admin")
    yield app
    app.close()


@pytest.fixture
def identity(accounts: IdentityApplication) -> Identity:
    return Identity(accounts, LocalPasswordProvider(accounts), MemoryThrottle(), TOKENS)  # type: ignore[arg-type]


def test_logging_in_gives_a_token_that_identifies_the_account(identity: Identity) -> None:
    # When 国资处's approver logs in
    token, user = identity.login("gzc", "onetrip-demo")
    # Then the token identifies them on later requests
    assert user == User("gzc", "国资处审批员", "gzc", ("approver", "editor"))
    assert identity.user(f"Bearer {token}") == user
    assert identity.viewer(None) is None


def test_an_unknown_user_and_a_wrong_password_are_both_just_401(identity: Identity) -> None:
    with pytest.raises(UnauthorizedError, match="用户名或密码错误"):
        identity.login("nobody", "onetrip-demo")
    with pytest.raises(UnauthorizedError, match="用户名或密码错误"):
        identity.login("gzc", "wrong")


def test_the_sixth_attempt_is_refused_before_the_password_is_checked(identity: Identity) -> None:
    # Given five wrong passwords
    for _ in range(5):
        with pytest.raises(UnauthorizedError):
            identity.login("gzc", "wrong")
    # Then even the right one is refused now, with a time to wait
    with pytest.raises(RateLimitedError) as refused:
        identity.login("gzc", "onetrip-demo")
    assert refused.value.headers is not None
    assert 0 < int(refused.value.headers["Retry-After"]) <= 15 * 60


def test_a_token_for_an_account_that_does_not_exist_is_401(identity: Identity) -> None:
    with pytest.raises(UnauthorizedError):
        identity.user(f"Bearer {TOKENS.issue('ghost')}")
    with pytest.raises(UnauthorizedError):
        identity.user(None)


def test_the_directory_lists_department_members_by_role(accounts: IdentityApplication) -> None:
    # Given 国资处's approver and then a new applicant of 国资处 registered
    assert accounts.department_members("gzc", role="approver") == ["gzc"]
    accounts.register(
        AccountDraft(
            username="gzc-teacher",
            name="赵老师",
            department="gzc",
            roles=["applicant"],
            phone="13800000099",
            email="zhao@example.edu.cn",
        ),
        None,
        actor="admin",
    )
    # Then the directory catches up with the new account
    assert accounts.department_members("gzc") == ["gzc", "gzc-teacher"]
    assert accounts.department_members("gzc", role="editor") == ["gzc"]
    assert accounts.department_members("jjc") == []
    assert accounts.contact("gzc-teacher") == {
        "username": "gzc-teacher",
        "name": "赵老师",
        "department": "gzc",
        "phone": "13800000099",
        "email": "zhao@example.edu.cn",
    }
    assert accounts.contact("nobody") is None


def test_an_account_registered_without_a_password_cannot_log_in(identity: Identity) -> None:
    # Given an account whose identity comes from single sign-on only
    identity.accounts.register(
        AccountDraft(
            username="sso-only",
            name="钱老师",
            department="hkxy",
            roles=["applicant"],
            phone="13800000098",
        ),
        None,
        actor="admin",
    )
    # Then no password opens it
    with pytest.raises(UnauthorizedError):
        identity.login("sso-only", "")


def test_the_demo_accounts_are_exactly_those_of_the_contract() -> None:
    assert [(a.username, a.department, tuple(a.roles)) for a in DEMO_ACCOUNTS] == [
        ("teacher1", "hkxy", ("applicant",)),
        ("teacher2", "hkxy", ("applicant",)),
        ("student1", "hkxy", ("applicant",)),
        ("gzc", "gzc", ("approver", "editor")),
        ("jjc", "jjc", ("approver", "editor")),
        ("xxh", "xxh", ("approver", "editor")),
        ("hq", "hq", ("approver", "editor")),
        ("bwc", "bwc", ("approver", "editor")),
        ("bmc", "bmc", ("approver", "editor")),
        ("cwc", "cwc", ("approver", "editor")),
        ("office", "xb", ("reviewer",)),
        ("party", "jgdw", ("publisher",)),
        ("discipline", "jw", ("supervisor",)),
        ("admin", "xxh", ("admin",)),
    ]


class CountingAccounts:
    """The real accounts application, counting how often a request reads an account."""

    def __init__(self, accounts: IdentityApplication) -> None:
        self.accounts, self.reads = accounts, 0

    def account(self, username: str) -> object:
        self.reads += 1
        return self.accounts.account(username)


def test_the_signed_in_account_is_read_once_per_few_seconds_not_per_request(
    accounts: IdentityApplication,
) -> None:
    # Given a gateway that keeps accounts for 5 seconds, and 国资处's approver's token
    now = [0.0]
    counting = CountingAccounts(accounts)
    identity = Identity(
        counting,  # type: ignore[arg-type]
        LocalPasswordProvider(accounts),
        MemoryThrottle(),  # type: ignore[arg-type]
        TOKENS,
        account_seconds=5,
        clock=lambda: now[0],
    )
    token = f"Bearer {TOKENS.issue('gzc')}"

    # When ten requests come within the 5 seconds
    users = [identity.user(token) for _ in range(10)]

    # Then the account was read once, and each request knows who asks
    assert counting.reads == 1 and set(users) == {User("gzc", "国资处审批员", "gzc", ("approver", "editor"))}

    # And after the 5 seconds it is read again
    now[0] = 5.1
    identity.user(token)
    assert counting.reads == 2

    # And a token for an account that does not exist yet is not remembered as missing
    ghost = f"Bearer {TOKENS.issue('gzc-new')}"
    with pytest.raises(UnauthorizedError):
        identity.user(ghost)
    accounts.register(GZC.model_copy(update={"username": "gzc-new"}), None, actor="admin")
    assert identity.user(ghost).username == "gzc-new"


def test_with_the_cache_off_every_request_reads_the_account(accounts: IdentityApplication) -> None:
    counting = CountingAccounts(accounts)
    identity = Identity(
        counting, LocalPasswordProvider(accounts), MemoryThrottle(), TOKENS, account_seconds=0  # type: ignore[arg-type]
    )
    for _ in range(3):
        identity.user(f"Bearer {TOKENS.issue('gzc')}")
    assert counting.reads == 3
