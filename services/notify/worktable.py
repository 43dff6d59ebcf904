"""The dispatcher's work table: which SMS and e-mails are due, claimed with SKIP LOCKED.

It is a projection of the notification log (``Notification.Queued``), kept in the notify
schema next to the events, so any number of notify instances share the work. Phone
numbers are stored only as keyed hashes, for the per-phone rate limits.
"""
from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from eventsourcing.utils import get_topic
from psycopg import sql
from psycopg.rows import tuple_row

from services.notify.application import NotifyApplication
from services.notify.domain import Notification
from shared.cipher import cipher_secret
from shared.followers import NotificationLogFollower, Position

QUEUED_TOPIC = get_topic(Notification.Queued)
SYNC_BATCH = 500

DDL = (
    """CREATE TABLE IF NOT EXISTS {schema}.delivery_work (
        notification_id uuid PRIMARY KEY,
        channel text NOT NULL,
        phone_hash text,
        final boolean NOT NULL DEFAULT false,
        state text NOT NULL DEFAULT 'queued',
        due_at timestamptz NOT NULL DEFAULT now(),
        slot_at timestamptz,
        claims integer NOT NULL DEFAULT 0,
        finished_at timestamptz)""",
    (
        "CREATE INDEX IF NOT EXISTS delivery_work_due ON {schema}.delivery_work (due_at) "
        "WHERE state = 'queued'"
    ),
    "CREATE INDEX IF NOT EXISTS delivery_work_phone ON {schema}.delivery_work (phone_hash, slot_at)",
    """CREATE TABLE IF NOT EXISTS {schema}.recipient_index (
        notification_id uuid PRIMARY KEY,
        username text NOT NULL,
        queued_at timestamptz NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS recipient_index_user ON {schema}.recipient_index (username, queued_at)",
)


@dataclass(frozen=True)
class SmsLimits:
    min_interval_seconds: float = 60.0
    per_day: int = 10


@dataclass(frozen=True)
class Claim:
    notification_id: uuid.UUID
    channel: str
    over_daily_limit: bool = False


def phone_hash(phone: str) -> str:
    return hmac.new(cipher_secret().encode(), phone.encode(), hashlib.sha256).hexdigest()


class WorkTable(NotificationLogFollower):
    position = Position(table="work_position", name="queued")
    batch = SYNC_BATCH
    topics = (QUEUED_TOPIC,)

    def __init__(self, app: NotifyApplication) -> None:
        super().__init__(app)
        self._create()

    @contextmanager
    def _cursor(self) -> Iterator[Any]:
        with self.tables.transaction(commit=True) as curs:
            yield curs.connection.cursor(row_factory=tuple_row)

    def _q(self, text: str) -> sql.Composed:
        return self.tables.query(text)

    def _create(self) -> None:
        with self.tables.transaction(commit=True) as curs:
            curs.execute("SELECT pg_advisory_xact_lock(hashtext('onetrip-notify-ddl'))")
            for statement in DDL:
                curs.execute(self._q(statement))
            self.create_position(curs)

    # -- following the notification log ---------------------------------------------------

    def apply(self, curs: Any, entries: Sequence[Any]) -> None:
        for queued in entries:
            self._add(curs, queued)

    def _add(self, curs: Any, queued: Any) -> None:
        curs.execute(
            self._q("INSERT INTO {schema}.recipient_index VALUES (%s, %s, %s) ON CONFLICT DO NOTHING"),
            (queued.originator_id, queued.recipient, queued.queued_at),
        )
        if queued.channel == "inbox":
            return
        hashed = phone_hash(queued.address) if queued.channel == "sms" else None
        curs.execute(
            self._q(
                "INSERT INTO {schema}.delivery_work (notification_id, channel, phone_hash, final) "
                "VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING"
            ),
            (queued.originator_id, queued.channel, hashed, queued.final),
        )

    # -- claiming due work ------------------------------------------------------------------

    def claim(self, limit: int, lease_seconds: float, limits: SmsLimits) -> list[Claim]:
        with self._cursor() as curs:
            curs.execute(
                self._q(
                    "WITH due AS (SELECT notification_id FROM {schema}.delivery_work "
                    "WHERE state = 'queued' AND due_at <= now() ORDER BY due_at LIMIT %s "
                    "FOR UPDATE SKIP LOCKED) "
                    "UPDATE {schema}.delivery_work w "
                    "SET due_at = now() + make_interval(secs => %s), claims = w.claims + 1 "
                    "FROM due WHERE w.notification_id = due.notification_id "
                    "RETURNING w.notification_id, w.channel, w.phone_hash, w.final"
                ),
                (limit, lease_seconds),
            )
            rows = sorted(curs.fetchall(), key=lambda row: row[2] or "")
            return [c for row in rows if (c := self._within_limits(curs, row, limits)) is not None]

    def _within_limits(self, curs: Any, row: tuple[Any, ...], limits: SmsLimits) -> Claim | None:
        notification_id, channel, hashed, final = row
        if channel != "sms":
            return Claim(notification_id, channel)
        # One phone's slots are decided one transaction at a time, whichever instance asks.
        curs.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (hashed,))
        last, today = self._recent_slots(curs, hashed, notification_id)
        if not final and last is not None:
            curs.execute(
                self._q(
                    "UPDATE {schema}.delivery_work SET due_at = %s + make_interval(secs => %s) "
                    "WHERE notification_id = %s AND %s + make_interval(secs => %s) > now() "
                    "RETURNING 1"
                ),
                (last, limits.min_interval_seconds, notification_id, last, limits.min_interval_seconds),
            )
            if curs.fetchone() is not None:
                return None
        if not final and today >= limits.per_day:
            return Claim(notification_id, channel, over_daily_limit=True)
        curs.execute(
            self._q("UPDATE {schema}.delivery_work SET slot_at = now() WHERE notification_id = %s"),
            (notification_id,),
        )
        return Claim(notification_id, channel)

    def _recent_slots(self, curs: Any, hashed: str, notification_id: uuid.UUID) -> tuple[Any, int]:
        curs.execute(
            self._q(
                "SELECT max(slot_at), count(*) FROM {schema}.delivery_work "
                "WHERE phone_hash = %s AND notification_id <> %s "
                "AND slot_at > now() - interval '1 day'"
            ),
            (hashed, notification_id),
        )
        last, today = curs.fetchone()
        return last, int(today)

    # -- outcomes -------------------------------------------------------------------------

    def retry_at(self, notification_id: uuid.UUID, due_at: Any) -> None:
        with self._cursor() as curs:
            curs.execute(
                self._q(
                    "UPDATE {schema}.delivery_work SET due_at = %s, slot_at = NULL "
                    "WHERE notification_id = %s"
                ),
                (due_at, notification_id),
            )

    def finish(self, notification_id: uuid.UUID, state: str) -> None:
        with self._cursor() as curs:
            curs.execute(
                self._q(
                    "UPDATE {schema}.delivery_work SET state = %s, finished_at = now() "
                    "WHERE notification_id = %s"
                ),
                (state, notification_id),
            )

    # -- queries --------------------------------------------------------------------------

    def of_recipient(self, username: str, limit: int = 200) -> list[uuid.UUID]:
        with self._cursor() as curs:
            curs.execute(
                self._q(
                    "SELECT notification_id FROM {schema}.recipient_index WHERE username = %s "
                    "ORDER BY queued_at DESC, notification_id LIMIT %s"
                ),
                (username, limit),
            )
            return [row[0] for row in curs.fetchall()]

    def failed(self, limit: int = 200) -> list[uuid.UUID]:
        with self._cursor() as curs:
            curs.execute(
                self._q(
                    "SELECT notification_id FROM {schema}.delivery_work WHERE state = 'failed' "
                    "ORDER BY finished_at DESC LIMIT %s"
                ),
                (limit,),
            )
            return [row[0] for row in curs.fetchall()]

    def pending(self) -> int:
        with self._cursor() as curs:
            curs.execute(self._q("SELECT count(*) FROM {schema}.delivery_work WHERE state = 'queued'"))
            return int(curs.fetchone()[0])
