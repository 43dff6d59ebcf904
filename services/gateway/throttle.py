"""Login throttling: at most ``limit`` attempts per username, and per client address, in a window.

An attempt is counted *before* the password is checked, atomically in PostgreSQL, so
parallel guesses through several gateway instances cannot slip past the limit. A
successful login clears its username's count and takes its own attempt back from its
address's count, so an address counts failures: password spraying (one guess for each of
many accounts) from one address is limited, while the many people behind one campus NAT
who log in correctly are not.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from psycopg import sql

CREATE_LOCK = zlib.crc32(b"onetrip-login-attempts:create")


@dataclass(frozen=True)
class Window:
    started_at: datetime
    attempts: int


@dataclass(frozen=True)
class LoginPolicy:
    limit: int = 5
    period: timedelta = timedelta(minutes=15)

    def count(self, window: Window | None, now: datetime) -> Window:
        if window is None or now - window.started_at >= self.period:
            return Window(now, 1)
        return Window(window.started_at, window.attempts + 1)

    def allows(self, window: Window) -> bool:
        return window.attempts <= self.limit

    def retry_after_seconds(self, window: Window, now: datetime) -> int:
        remaining = window.started_at + self.period - now
        return max(1, math.ceil(remaining.total_seconds()))


class LoginThrottle:
    """Keeps the windows in ``<schema>.<table>`` through the event store's pool, one row per
    ``key`` (a username, or a client address)."""

    def __init__(
        self,
        datastore: Any,
        schema: str,
        policy: LoginPolicy | None = None,
        table: str = "login_attempts",
        key: str = "username",
    ) -> None:
        self.datastore = datastore
        self.policy = policy or LoginPolicy()
        self.name = table
        self.table = sql.Identifier(schema, table)
        self.key = sql.Identifier(key)

    def create_table(self) -> None:
        with self.datastore.transaction(commit=True) as cursor:
            # Several gateways may start at once; CREATE ... IF NOT EXISTS alone can race.
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", (CREATE_LOCK,))
            cursor.execute(
                sql.SQL(
                    "CREATE TABLE IF NOT EXISTS {} ({} text PRIMARY KEY, "
                    "window_started_at timestamptz NOT NULL, attempts integer NOT NULL)"
                ).format(self.table, self.key)
            )
            cursor.execute(
                sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} (window_started_at)").format(
                    sql.Identifier(f"{self.name}_started"), self.table
                )
            )

    def attempt(self, key: str, now: datetime | None = None) -> Window:
        """Counts one attempt and returns the window it falls in."""
        moment = now or datetime.now(UTC)
        with self.datastore.transaction(commit=True) as cursor:
            window = self._locked_window(cursor, key, moment)
            counted = self.policy.count(window, moment)
            cursor.execute(
                sql.SQL("UPDATE {} SET window_started_at = %s, attempts = %s WHERE {} = %s").format(
                    self.table, self.key
                ),
                (counted.started_at, counted.attempts, key),
            )
        return counted

    def clear(self, key: str, now: datetime | None = None) -> None:
        """Forgets this key's attempts, and every window that is over anyway."""
        expired_before = (now or datetime.now(UTC)) - self.policy.period
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(
                sql.SQL("DELETE FROM {} WHERE {} = %s OR window_started_at < %s").format(
                    self.table, self.key
                ),
                (key, expired_before),
            )

    def take_back(self, key: str, now: datetime | None = None) -> None:
        """Uncounts one attempt that turned out to be a successful login, and forgets every
        window that is over anyway."""
        expired_before = (now or datetime.now(UTC)) - self.policy.period
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(
                sql.SQL("UPDATE {} SET attempts = greatest(attempts - 1, 0) WHERE {} = %s").format(
                    self.table, self.key
                ),
                (key,),
            )
            cursor.execute(
                sql.SQL("DELETE FROM {} WHERE window_started_at < %s").format(self.table),
                (expired_before,),
            )

    def _locked_window(self, cursor: Any, key: str, now: datetime) -> Window | None:
        cursor.execute(
            sql.SQL(
                "INSERT INTO {} ({}, window_started_at, attempts) VALUES (%s, %s, 0) "
                "ON CONFLICT ({}) DO NOTHING"
            ).format(self.table, self.key, self.key),
            (key, now),
        )
        cursor.execute(
            sql.SQL("SELECT window_started_at, attempts FROM {} WHERE {} = %s FOR UPDATE").format(
                self.table, self.key
            ),
            (key,),
        )
        row = cursor.fetchone()
        if row is None or row["attempts"] == 0:
            return None
        return Window(row["window_started_at"], row["attempts"])
