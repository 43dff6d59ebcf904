"""The search read model: published items, kept in ``catalogue.item_search``.

It is a projection of the catalogue's own notification log (``Published`` and
``Retired`` events only), with its position stored in the same transaction as the rows
(``catalogue.item_search_position``). The application catches it up right after each
save of a publish or retire, so a caller reads its own writes; the service also catches
it up at start, so a crash between a save and the catch-up heals itself, and
``rebuild`` replays it from the event store from scratch. Row-locking the position row
serialises concurrent catch-ups of several instances, each change is applied once.

Chinese substrings are matched with LIKE against a lower-cased copy of the name and
description (a stored generated column): pg_trgm extracts no trigrams from CJK text under
the C locale, and a sequential scan over a few thousand rows costs about a millisecond.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from eventsourcing.application import Application
from eventsourcing.utils import get_topic
from psycopg import sql
from psycopg.types.json import Jsonb

from services.catalogue.domain import ServiceItem, as_item
from shared.followers import Tables

PROJECTION = "item_search"
TOPICS = (get_topic(ServiceItem.Published), get_topic(ServiceItem.Retired))
BATCH = 500


@dataclass(frozen=True)
class SearchChange:
    item_id: str
    item: dict[str, Any] | None  # None removes the item from the catalogue


ChangeFeed = Callable[[int], tuple[int, list[SearchChange]]]


def change_feed(app: Application[Any]) -> ChangeFeed:
    def changes_after(position: int) -> tuple[int, list[SearchChange]]:
        notifications = app.recorder.select_notifications(
            start=position, limit=BATCH, topics=TOPICS, inclusive_of_start=False
        )
        changes = [to_change(app.mapper.to_domain_event(n)) for n in notifications]
        return (notifications[-1].id if notifications else position), changes

    return changes_after


def to_change(domain_event: Any) -> SearchChange:
    if isinstance(domain_event, ServiceItem.Published):
        item = as_item(
            domain_event.item_id,
            domain_event.department,
            domain_event.content,
            "published",
            domain_event.version,
        )
        return SearchChange(domain_event.item_id, item)
    return SearchChange(domain_event.item_id, None)


def summary(item: dict[str, Any]) -> dict[str, Any]:
    keys = ("item_id", "name", "department", "trips", "mode", "version")
    return {key: item[key] for key in keys}


class SearchIndex(Protocol):
    def catch_up(self, changes_after: ChangeFeed) -> int: ...

    def rebuild(self, changes_after: ChangeFeed) -> int: ...

    def search(self, q: str | None, department: str | None) -> list[dict[str, Any]]: ...

    def published_items(self, department: str | None) -> list[dict[str, Any]]: ...


class MemorySearchIndex:
    """The same projection in memory, for the application on POPO persistence."""

    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        self.position = 0
        self.lock = threading.Lock()

    def catch_up(self, changes_after: ChangeFeed) -> int:
        with self.lock:
            while True:
                position, changes = changes_after(self.position)
                if position == self.position:
                    return position
                for change in changes:
                    self._apply(change)
                self.position = position

    def rebuild(self, changes_after: ChangeFeed) -> int:
        with self.lock:
            self.items.clear()
            self.position = 0
        return self.catch_up(changes_after)

    def _apply(self, change: SearchChange) -> None:
        if change.item is None:
            self.items.pop(change.item_id, None)
        else:
            self.items[change.item_id] = change.item

    def search(self, q: str | None, department: str | None) -> list[dict[str, Any]]:
        return [summary(item) for item in self._matching(q, department)]

    def published_items(self, department: str | None) -> list[dict[str, Any]]:
        return self._matching(None, department)

    def _matching(self, q: str | None, department: str | None) -> list[dict[str, Any]]:
        needle = (q or "").casefold()
        found = [
            item
            for item in self.items.values()
            if (department is None or item["department"] == department)
            and (needle in item["name"].casefold() or needle in item["description"].casefold())
        ]
        return sorted(found, key=lambda item: (item["department"], item["name"], item["item_id"]))


class PostgresSearchIndex:
    def __init__(self, tables: Tables) -> None:
        self.tables = tables
        self.table = sql.Identifier(tables.schema, PROJECTION)
        self.position_table = sql.Identifier(tables.schema, f"{PROJECTION}_position")
        self._create_tables()

    def _create_tables(self) -> None:
        statements = [
            "SELECT pg_advisory_xact_lock(hashtext({name}))",
            (
                "CREATE TABLE IF NOT EXISTS {table} ("
                " item_id text PRIMARY KEY, name text NOT NULL, description text NOT NULL,"
                " department text NOT NULL, trips smallint NOT NULL, mode text NOT NULL,"
                " version integer NOT NULL, item jsonb NOT NULL,"
                " updated_at timestamptz NOT NULL DEFAULT now())"
            ),
            "CREATE INDEX IF NOT EXISTS {department_index} ON {table} (department)",
            # Lower-cased once when a row is written, so a search is a plain LIKE: ILIKE
            # lower-cased every row's text on every query (about 4x slower over 1,000 items).
            # chr(31) keeps a query from matching across the end of the name.
            (
                "ALTER TABLE {table} ADD COLUMN IF NOT EXISTS search_text text"
                " GENERATED ALWAYS AS (lower(name || chr(31) || description)) STORED"
            ),
            (
                "CREATE TABLE IF NOT EXISTS {position} ("
                " projection text PRIMARY KEY, notification_id bigint NOT NULL)"
            ),
            "INSERT INTO {position} VALUES ({projection}, 0) ON CONFLICT DO NOTHING",
        ]
        names = {
            "name": sql.Literal(f"{self.tables.schema}.{PROJECTION}"),
            "projection": sql.Literal(PROJECTION),
            "table": self.table,
            "position": self.position_table,
            "department_index": sql.Identifier(f"{PROJECTION}_department"),
        }
        with self.tables.transaction(commit=True) as curs:
            for statement in statements:
                curs.execute(sql.SQL(statement).format(**names))

    def catch_up(self, changes_after: ChangeFeed) -> int:
        with self.tables.transaction(commit=True) as curs:
            curs.execute(
                sql.SQL("SELECT notification_id FROM {} WHERE projection = %s FOR UPDATE").format(
                    self.position_table
                ),
                (PROJECTION,),
            )
            start = position = int(curs.fetchone()["notification_id"])
            while True:
                next_position, changes = changes_after(position)
                if next_position == position:
                    break
                self._apply(curs, changes)
                position = next_position
            if position != start:
                self._store_position(curs, position)
            return position

    def rebuild(self, changes_after: ChangeFeed) -> int:
        with self.tables.transaction(commit=True) as curs:
            curs.execute(sql.SQL("DELETE FROM {}").format(self.table))
            self._store_position(curs, 0)
        return self.catch_up(changes_after)

    def _store_position(self, curs: Any, position: int) -> None:
        curs.execute(
            sql.SQL("UPDATE {} SET notification_id = %s WHERE projection = %s").format(
                self.position_table
            ),
            (position, PROJECTION),
        )

    def _apply(self, curs: Any, changes: Sequence[SearchChange]) -> None:
        upsert = sql.SQL(
            "INSERT INTO {} (item_id, name, description, department, trips, mode, version, item)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (item_id) DO UPDATE SET"
            " name = EXCLUDED.name, description = EXCLUDED.description,"
            " department = EXCLUDED.department, trips = EXCLUDED.trips, mode = EXCLUDED.mode,"
            " version = EXCLUDED.version, item = EXCLUDED.item, updated_at = now()"
        ).format(self.table)
        delete = sql.SQL("DELETE FROM {} WHERE item_id = %s").format(self.table)
        for change in changes:
            item = change.item
            if item is None:
                curs.execute(delete, (change.item_id,))
                continue
            row = [item[key] for key in ("item_id", "name", "description", "department")]
            row += [item["trips"], item["mode"], item["version"], Jsonb(item)]
            curs.execute(upsert, row)

    def search(self, q: str | None, department: str | None) -> list[dict[str, Any]]:
        statement = sql.SQL(
            "SELECT item_id, name, department, trips, mode, version FROM {} WHERE {}"
            " ORDER BY department, name, item_id"
        )
        return self._select(statement, q, department)

    def published_items(self, department: str | None) -> list[dict[str, Any]]:
        statement = sql.SQL("SELECT item FROM {} WHERE {} ORDER BY department, name, item_id")
        return [row["item"] for row in self._select(statement, None, department)]

    def _select(
        self, statement: sql.SQL, q: str | None, department: str | None
    ) -> list[dict[str, Any]]:
        conditions: list[sql.Composable] = [sql.SQL("TRUE")]
        params: list[Any] = []
        if q:
            conditions.append(sql.SQL("search_text LIKE lower(%s)"))
            params.append(like_pattern(q))
        if department:
            conditions.append(sql.SQL("department = %s"))
            params.append(department)
        query = statement.format(self.table, sql.SQL(" AND ").join(conditions))
        with self.tables.transaction(commit=False) as curs:
            curs.execute(query, params)
            return [dict(row) for row in curs.fetchall()]


def like_pattern(q: str) -> str:
    escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def search_index_for(app: Application[Any]) -> SearchIndex:
    try:
        return PostgresSearchIndex(Tables.of(app))
    except TypeError:  # kept in memory or SQLite (the unit tests)
        return MemorySearchIndex()
