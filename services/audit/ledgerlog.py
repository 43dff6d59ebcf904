"""The ledger read as a notification log, so the audit's other applications follow it the way
the eventsourcing library's ``System`` joins a follower to its leader.

A notification's id is the entry's ``seq``, its topic the event's wire type and its state the
canonical JSON that was hashed. ``seq`` is given under the append lock, in commit order, so a
follower that asks for the entries after the last one it processed misses none.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from eventsourcing.application import NotificationLog, Section
from eventsourcing.persistence import Notification
from psycopg import sql
from psycopg.rows import tuple_row

from services.audit.ledger import ledger_table
from shared.contracts import IntegrationEvent
from shared.followers import Tables


class LedgerLog(NotificationLog):
    def __init__(self, tables: Tables) -> None:
        self.tables = tables

    def __getitem__(self, section_id: str) -> Section:
        raise NotImplementedError("the ledger is read with select()")

    def select(
        self,
        start: int | None,
        limit: int,
        stop: int | None = None,
        topics: Sequence[str] = (),
        *,
        inclusive_of_start: bool = True,
    ) -> Sequence[Notification]:
        first = (start or 0) + (0 if inclusive_of_start else 1)
        query = sql.SQL(
            "SELECT seq, event FROM {} WHERE seq >= %(first)s"
            " AND (%(stop)s::bigint IS NULL OR seq <= %(stop)s)"
            " AND (cardinality(%(topics)s::text[]) = 0"
            "      OR (event::jsonb) ->> 'type' = ANY(%(topics)s::text[]))"
            " ORDER BY seq LIMIT %(limit)s"
        ).format(ledger_table(self.tables.schema))
        arguments = {"first": first, "stop": stop, "topics": list(topics), "limit": limit}
        with self.tables.connection() as conn, conn.cursor(row_factory=tuple_row) as curs:
            return [_notification(seq, event) for seq, event in curs.execute(query, arguments)]


def _notification(seq: int, event: str) -> Notification:
    wire = json.loads(event)
    return Notification(
        id=seq,
        originator_id=str(wire.get("aggregate_id", "")),
        originator_version=int(wire.get("aggregate_version") or 0),
        topic=str(wire.get("type", "")),
        state=event.encode("utf-8"),
    )


def wire_event(notification: Notification) -> dict[str, Any]:
    event: dict[str, Any] = json.loads(notification.state)
    return event


def integration_event(notification: Notification) -> IntegrationEvent:
    return IntegrationEvent.model_validate(wire_event(notification))
