"""Read models kept from a log: one follower base for every service's tables beside its events.

A follower reads the entries after its stored position, applies them and stores the new
position in the same transaction, so each entry is applied once whichever instance catches
up first: the position row is locked (``FOR UPDATE``) for the length of one batch.
``NotificationLogFollower`` follows an application's own notification log (the approval
inbox, notify's work table); the audit supervision facts follow the ledger table.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

from eventsourcing.application import Application
from eventsourcing.postgres import PostgresDatastore, PostgresRecorder
from psycopg import Connection, Cursor, sql
from psycopg.rows import DictRow

E = TypeVar("E")


@dataclass(frozen=True)
class Tables:
    """An application's PostgreSQL schema, for the tables a service keeps beside its events."""

    datastore: PostgresDatastore

    @classmethod
    def of(cls, app: Application[Any]) -> Tables:
        recorder = app.recorder
        if not isinstance(recorder, PostgresRecorder):
            raise TypeError(f"{app.name} keeps its events outside PostgreSQL")
        return cls(recorder.datastore)

    @property
    def schema(self) -> str:
        return self.datastore.schema or "public"

    def query(self, text: str) -> sql.Composed:
        """``text`` with ``{schema}`` standing for the application's schema."""
        return sql.SQL(text).format(schema=sql.Identifier(self.schema))

    def transaction(self, *, commit: bool = True) -> AbstractContextManager[Cursor[DictRow]]:
        return self.datastore.transaction(commit=commit)

    def connection(self) -> AbstractContextManager[Connection[DictRow]]:
        return self.datastore.get_connection()


@dataclass(frozen=True)
class Position:
    """Where a follower's position is kept: a row ``name`` of ``table`` (in the schema)."""

    table: str
    name: str
    column: str = "notification_id"


class Follower(ABC, Generic[E]):
    position: ClassVar[Position]
    batch: ClassVar[int] = 500

    def __init__(self, tables: Tables) -> None:
        self.tables = tables

    @abstractmethod
    def entries_after(self, curs: Cursor[DictRow], position: int) -> Sequence[tuple[int, E]]:
        """At most ``batch`` entries after ``position``, each with its own position."""

    @abstractmethod
    def apply(self, curs: Cursor[DictRow], entries: Sequence[E]) -> None:
        """Apply the entries inside the transaction that moves the position past them."""

    def catch_up(self) -> int:
        applied = 0
        while True:
            with self.tables.transaction(commit=True) as curs:
                entries = self.entries_after(curs, self._locked_position(curs))
                if entries:
                    self.apply(curs, [entry for _, entry in entries])
                    self._move_to(curs, entries[-1][0])
            applied += len(entries)
            if len(entries) < self.batch:
                return applied

    def create_position(self, curs: Cursor[DictRow]) -> None:
        curs.execute(self._query(
            "CREATE TABLE IF NOT EXISTS {table} (name text PRIMARY KEY, {column} bigint NOT NULL)"
        ))
        curs.execute(
            self._query("INSERT INTO {table} VALUES (%s, 0) ON CONFLICT DO NOTHING"),
            (self.position.name,),
        )

    def rewind(self, curs: Cursor[DictRow]) -> None:
        self._locked_position(curs)
        self._move_to(curs, 0)

    def _locked_position(self, curs: Cursor[DictRow]) -> int:
        curs.execute(
            self._query("SELECT {column} AS position FROM {table} WHERE name = %s FOR UPDATE"),
            (self.position.name,),
        )
        row = curs.fetchone()
        return int(row["position"]) if row else 0

    def _move_to(self, curs: Cursor[DictRow], position: int) -> None:
        curs.execute(
            self._query("UPDATE {table} SET {column} = %s WHERE name = %s"),
            (position, self.position.name),
        )

    def _query(self, text: str) -> sql.Composed:
        return sql.SQL(text).format(
            table=sql.Identifier(self.tables.schema, self.position.table),
            column=sql.Identifier(self.position.column),
        )


class NotificationLogFollower(Follower[Any]):
    """Follows an application's own notification log; entries are its stored domain events."""

    topics: ClassVar[Sequence[str]] = ()

    def __init__(self, app: Application[Any]) -> None:
        super().__init__(Tables.of(app))
        self.app = app

    def entries_after(self, curs: Cursor[DictRow], position: int) -> Sequence[tuple[int, Any]]:
        return [
            (notification.id, self.app.mapper.to_domain_event(notification))
            for notification in self.notifications(position, self.batch)
        ]

    def notifications(self, after: int, limit: int, stop: int | None = None) -> Iterator[Any]:
        yield from self.app.recorder.select_notifications(
            start=after, limit=limit, stop=stop, topics=self.topics, inclusive_of_start=False
        )
