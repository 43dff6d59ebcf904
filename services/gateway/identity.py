"""The gateway's identity: logging in, knowing who asks, and the directory other services use."""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cachetools import TTLCache
from eventlet import tpool

from services.gateway.application import IdentityApplication
from services.gateway.auth import IdentityProvider, LocalPasswordProvider, User, bearer_token
from services.gateway.demo import seed_demo_accounts
from services.gateway.doors import trusted_proxies
from services.gateway.http import UnauthorizedError
from services.gateway.throttle import LoginPolicy, LoginThrottle
from services.gateway.tokens import InvalidTokenError, TokenIssuer
from shared.caller import act_for
from shared.config import Settings, env
from shared.dependencies import Provided
from shared.errors import RateLimitedError
from shared.eventstore import open_application

log = logging.getLogger(__name__)

DEFAULT_TOKEN_HOURS = "8"


def token_hours() -> float:
    return float(env("ONETRIP_TOKEN_HOURS"))


ACCOUNT_CACHE_SIZE = 10_000


@dataclass
class Identity:
    accounts: IdentityApplication
    provider: IdentityProvider
    throttle: LoginThrottle
    tokens: TokenIssuer
    account_seconds: float | None = None
    clock: Callable[[], float] = time.monotonic
    address_throttle: LoginThrottle | None = None

    def __post_init__(self) -> None:
        # Who a token names is looked up on every request; the account, kept for a few
        # seconds (ONETRIP_ACCOUNT_CACHE_SECONDS, 0 = never), saves a store read each time.
        seconds = (
            float(env("ONETRIP_ACCOUNT_CACHE_SECONDS"))
            if self.account_seconds is None
            else self.account_seconds
        )
        self._users: TTLCache[str, User] | None = (
            TTLCache(ACCOUNT_CACHE_SIZE, seconds, timer=self.clock) if seconds > 0 else None
        )
        self.signed_in: Callable[[User], None] = lambda user: None

    def for_worker(self, signed_in: Callable[[User], None]) -> Identity:
        """This identity for one request: ``signed_in`` learns who the request turns out to be."""
        bound = copy.copy(self)
        bound.signed_in = signed_in
        return bound

    def login(self, username: str, password: str, address: str | None = None) -> tuple[str, User]:
        """A token for these credentials. Throttled per client ``address`` (when known) and per
        username; each attempt is counted before the password is checked."""
        now = datetime.now(UTC)
        if address is not None and self.address_throttle is not None:
            admit(self.address_throttle, address, now, "来自您所在网络地址的登录失败次数过多")
        admit(self.throttle, username, now, "登录失败次数过多")
        user = self.provider.authenticate(username, password)
        if user is None:
            raise UnauthorizedError("用户名或密码错误")
        self.throttle.clear(username)
        if address is not None and self.address_throttle is not None:
            self.address_throttle.take_back(address)
        self.signed_in(user)
        return self.tokens.issue(user.username), user

    def sign_in(self, user: User) -> str:
        """A token for someone the campus single sign-on vouched for (``services.gateway.sso``)."""
        self.signed_in(user)
        return self.tokens.issue(user.username)

    def user(self, authorization: str | None) -> User:
        """The signed-in user; 401 without a valid token."""
        viewer = self.viewer(authorization)
        if viewer is None:
            raise UnauthorizedError("请先登录")
        return viewer

    def viewer(self, authorization: str | None) -> User | None:
        """The signed-in user, or None for the anonymous public; 401 for a bad token."""
        token = bearer_token(authorization)
        if token is None:
            return None
        try:
            username = self.tokens.username_in(token)
        except InvalidTokenError as exc:
            raise UnauthorizedError(str(exc)) from exc
        user = self._user_named(username)
        if user is None:
            raise UnauthorizedError("账号不存在,请重新登录")
        self.signed_in(user)
        return user

    def _user_named(self, username: str) -> User | None:
        if self._users is not None and (known := self._users.get(username)) is not None:
            return known
        account = self.accounts.account(username)
        if account is None:
            return None  # not remembered: an account registered a moment later is found
        user = User.of(account)
        if self._users is not None:
            self._users[username] = user
        return user


def admit(throttle: LoginThrottle, key: str, now: datetime, why: str) -> None:
    window = throttle.attempt(key, now)
    if not throttle.policy.allows(window):
        wait = throttle.policy.retry_after_seconds(window, now)
        raise RateLimitedError(
            f"{why},请 {max(1, wait // 60)} 分钟后再试", retry_after=wait
        )


def address_policy() -> LoginPolicy:
    return LoginPolicy(limit=int(env("ONETRIP_LOGIN_ADDRESS_LIMIT")))


class IdentityStore(Provided[Identity]):
    """Opens the identity application once per container and seeds the demo accounts."""

    def build(self) -> Identity:
        settings = Settings()
        accounts = open_application(IdentityApplication, IdentityApplication.service, settings)
        if encrypted := accounts.encrypt_plain_events():
            log.info("encrypted %d account events stored in the clear", encrypted)
        recorder: Any = accounts.recorder
        throttle = LoginThrottle(recorder.datastore, IdentityApplication.service)
        throttle.create_table()
        by_address = LoginThrottle(
            recorder.datastore,
            IdentityApplication.service,
            address_policy(),
            table="login_attempts_by_address",
            key="address",
        )
        by_address.create_table()
        trusted_proxies(env("ONETRIP_TRUSTED_PROXIES"))  # a bad setting stops the start
        if env("ONETRIP_DEMO") == "1":
            seed_demo_accounts(accounts, settings.database.conninfo())
        return Identity(
            accounts,
            LocalPasswordProvider(accounts, run_blocking=tpool.execute),
            throttle,
            TokenIssuer(env("ONETRIP_SECRET_KEY"), timedelta(hours=token_hours())),
            address_throttle=by_address,
        )

    def close(self, identity: Identity) -> None:
        identity.accounts.close()

    def get_dependency(self, worker_ctx: Any) -> Identity:
        # The services this request calls learn who it is from the gateway's signed assertion.
        return super().get_dependency(worker_ctx).for_worker(
            lambda user: act_for(worker_ctx, user.as_actor())
        )
