"""The gateway's identity application: accounts as event-sourced aggregates."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.utils import get_topic

from services.gateway.domain import Account, account_id
from services.gateway.models import AccountDraft
from shared.eventstore import OnetripApplication

DIRECTORY_BATCH = 500


@dataclass(frozen=True)
class Member:
    department: str
    roles: tuple[str, ...]


class IdentityApplication(OnetripApplication):
    name = "identity"
    service = "gateway"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._members: dict[str, Member] = {}
        self._position = 0
        self._directory_lock = threading.Lock()

    def register(self, draft: AccountDraft, password_hash: str | None, actor: str) -> None:
        self.save(Account(**draft.model_dump(), password_hash=password_hash, actor=actor))

    def account(self, username: str) -> Account | None:
        try:
            found: Account = self.repository.get(account_id(username))
        except AggregateNotFoundError:
            return None
        return found

    def exists(self, username: str) -> bool:
        return self.account(username) is not None

    def contact(self, username: str) -> dict[str, Any] | None:
        account = self.account(username)
        if account is None:
            return None
        return {
            "username": account.username,
            "name": account.name,
            "department": account.department,
            "phone": account.phone,
            "email": account.email,
        }

    def department_members(self, department: str, role: str | None = None) -> list[str]:
        self._catch_up()
        return sorted(
            username
            for username, member in self._members.items()
            if member.department == department and (role is None or role in member.roles)
        )

    def _catch_up(self) -> None:
        """Follows the notification log into the in-memory directory; every instance does."""
        with self._directory_lock:
            while self._read_batch():
                pass

    def _read_batch(self) -> bool:
        notifications = self.recorder.select_notifications(
            start=self._position,
            limit=DIRECTORY_BATCH,
            topics=[get_topic(Account.Registered)],  # type: ignore[attr-defined]
            inclusive_of_start=False,
        )
        for notification in notifications:
            self._apply(self.mapper.to_domain_event(notification))
            self._position = notification.id
        return len(notifications) == DIRECTORY_BATCH

    def _apply(self, registered: Any) -> None:
        self._members[registered.username] = Member(registered.department, tuple(registered.roles))
