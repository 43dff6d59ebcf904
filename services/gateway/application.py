"""The gateway's identity application: accounts as event-sourced aggregates, their stored
events encrypted at rest (phone numbers and e-mail addresses are personal data)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.cipher import AESCipher
from eventsourcing.utils import Environment, get_topic
from psycopg import sql

from services.gateway.domain import Account, account_id
from services.gateway.models import AccountDraft
from shared.cipher import cipher_env, plain_state
from shared.eventstore import OnetripApplication

DIRECTORY_BATCH = 500


@dataclass(frozen=True)
class Member:
    department: str
    roles: tuple[str, ...]


class IdentityApplication(OnetripApplication):
    name = "identity"
    service = "gateway"

    def __init__(self, env: dict[str, str] | None = None) -> None:
        super().__init__({**cipher_env(reads_plain=True), **(env or {})})
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

    def encrypt_plain_events(self) -> int:
        """Encrypts in place the events stored before encryption was turned on (their
        meaning, ids and order unchanged); returns how many. Safe to run at every start
        and from several instances at once."""
        recorder: Any = self.recorder
        strict = AESCipher(Environment(env=dict(self.env)))
        table = sql.Identifier(recorder.datastore.schema, recorder.events_table_name)
        select = sql.SQL(
            "SELECT originator_id, originator_version, state FROM {} "
            "WHERE substring(state from 1 for 1) = '\\x7b'::bytea"
        ).format(table)
        update = sql.SQL(
            "UPDATE {} SET state = %s WHERE originator_id = %s AND originator_version = %s "
            "AND state = %s"
        ).format(table)
        with recorder.datastore.transaction(commit=True) as cursor:
            cursor.execute(select)
            plain = [
                row for row in cursor.fetchall()
                if plain_state(row["state"]) and not _decrypts(strict, row["state"])
            ]
            for row in plain:
                cursor.execute(update, (strict.encrypt(row["state"]), row["originator_id"],
                                        row["originator_version"], row["state"]))
        return len(plain)

    def _apply(self, registered: Any) -> None:
        self._members[registered.username] = Member(registered.department, tuple(registered.roles))


def _decrypts(cipher: AESCipher, state: bytes) -> bool:
    try:
        cipher.decrypt(state)
    except ValueError:
        return False
    return True
