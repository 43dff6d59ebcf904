"""Who is asking, and what they may do: users, roles and the identity-provider seam."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from services.gateway.application import IdentityApplication
from services.gateway.domain import Account
from services.gateway.http import UnauthorizedError
from services.gateway.passwords import verify_password
from shared.errors import ForbiddenError
from shared.roles import is_staff, role_names

T = TypeVar("T")


@dataclass(frozen=True)
class User:
    username: str
    name: str
    department: str
    roles: tuple[str, ...]

    @classmethod
    def of(cls, account: Account) -> User:
        return cls(account.username, account.name, account.department, tuple(account.roles))

    @property
    def is_staff(self) -> bool:
        return is_staff(self.roles)

    def has_any(self, *roles: str) -> bool:
        return any(role in self.roles for role in roles)

    def as_actor(self) -> dict[str, Any]:
        return {
            "username": self.username,
            "name": self.name,
            "department": self.department,
            "roles": list(self.roles),
        }


def require_roles(user: User, *roles: str) -> User:
    if not user.has_any(*roles):
        raise ForbiddenError(f"需要以下角色之一：{role_names(roles)}")
    return user


def require_staff(user: User) -> User:
    if not user.is_staff:
        raise ForbiddenError("仅限工作人员")
    return user


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer`` header, None when there is no header."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise UnauthorizedError("需要 Authorization: Bearer <令牌>")
    return token.strip()


class IdentityProvider(Protocol):
    """Tells who presented these credentials. The local password provider is the default;
    a campus single sign-on provider (CAS, OIDC) implements the same method (docs/sso.md)."""

    def authenticate(self, username: str, password: str) -> User | None: ...


def run_inline(fn: Callable[..., T], *args: Any) -> T:
    return fn(*args)


class LocalPasswordProvider:
    def __init__(
        self,
        accounts: IdentityApplication,
        run_blocking: Callable[..., Any] = run_inline,
    ) -> None:
        self.accounts = accounts
        self.run_blocking = run_blocking

    def authenticate(self, username: str, password: str) -> User | None:
        account = self.accounts.account(username)
        password_hash = account.password_hash if account is not None else None
        if not self.run_blocking(verify_password, password_hash, password):
            return None
        assert account is not None
        return User.of(account)


Action = TypeVar("Action", bound=Callable[..., Any])


def needs(*roles: str, staff: bool = False) -> Callable[[Action], Action]:
    """Declares, once, who may take an action: its user needs one of ``roles`` (or any staff
    role). The action checks it; a route may ask it early (``admitted``), before reading a body."""

    def declare(action: Action) -> Action:
        @functools.wraps(action)
        def gated(desk: Any, user: User, *args: Any, **kwargs: Any) -> Any:
            return action(desk, admitted(user, gated), *args, **kwargs)

        gated.roles, gated.staff = roles, staff  # type: ignore[attr-defined]
        return gated  # type: ignore[return-value]

    return declare


def admitted(user: User, action: Callable[..., Any]) -> User:
    """``user``, when ``action`` (declared with ``needs``) is theirs to take; 403 otherwise."""
    if getattr(action, "staff", False):
        require_staff(user)
    roles = getattr(action, "roles", ())
    return require_roles(user, *roles) if roles else user
