"""The tamper-evident ledger: every consumed integration event, hash-chained, in PostgreSQL.

Entry n stores ``hash_n = sha256(hash_{n-1} + canonical_json(event))`` (hex digests,
UTF-8), with ``hash_0`` sixty-four zeros; the rule is spelled out in ``LEDGER.md``.
The ledger is a plain append-only table written by the audit application's process
recorder in the same transaction as the tracking record, so an event is appended
exactly once. ``seq`` is given by a single writer: the transaction takes an advisory
lock, reads the chain head and appends after it, whichever instance it runs in.
"""
from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresDatastore, PostgresProcessRecorder
from psycopg import sql
from psycopg.rows import DictRow, tuple_row

GENESIS = "0" * 64
LEDGER_TABLE = "ledger"
APPEND_LOCK = 0x6F6E6574726970  # "onetrip": one chain head per database
VERIFY_BATCH = 20_000


def canonical_json(event: dict[str, Any]) -> str:
    return json.dumps(event, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def chain_hash(prev_hash: str, canonical: str) -> str:
    return hashlib.sha256((prev_hash + canonical).encode("utf-8")).hexdigest()


def ledger_table(schema: str) -> sql.Composed:
    return sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(LEDGER_TABLE))


def create_statements(schema: str) -> list[sql.Composed]:
    table = ledger_table(schema)
    return [
        sql.SQL(
            "CREATE TABLE IF NOT EXISTS {} ("
            " seq bigint PRIMARY KEY,"
            " prev_hash text NOT NULL,"
            " hash text NOT NULL,"
            " event text NOT NULL,"
            " recorded_at timestamptz NOT NULL DEFAULT now())"
        ).format(table),
        # Everything a query filters on is derived from the hashed text itself, so an
        # edit of the index cannot hide an event from a replay without failing verify.
        sql.SQL(
            "CREATE INDEX IF NOT EXISTS {} ON {} (((event::jsonb) #>> '{{data,case_id}}'), seq)"
        ).format(sql.Identifier(f"{LEDGER_TABLE}_case_idx"), table),
    ]


def append(curs: psycopg.Cursor[DictRow], schema: str, canonical: str) -> None:
    """Append inside the caller's transaction; the lock is held until it commits.

    Two pipelined statements and no round trip in between: the lock first, so the
    INSERT's snapshot (taken when it starts) already sees the head the last holder
    committed. PostgreSQL computes the same hash as ``chain_hash``.
    """
    curs.execute("SELECT pg_advisory_xact_lock(%s)", (APPEND_LOCK,), prepare=True)
    curs.execute(
        sql.SQL(
            "INSERT INTO {table} (seq, prev_hash, hash, event)"
            " SELECT head.seq + 1, head.hash,"
            " encode(sha256(convert_to(head.hash || %(event)s, 'UTF8')), 'hex'), %(event)s"
            " FROM (SELECT seq, hash FROM {table}"
            "  UNION ALL SELECT 0, %(genesis)s ORDER BY seq DESC LIMIT 1) AS head"
        ).format(table=ledger_table(schema)),
        {"event": canonical, "genesis": GENESIS},
        prepare=True,
    )


class LedgerRecorder(PostgresProcessRecorder):
    """The process recorder that also appends ``ledger_entry`` (canonical JSON) when given."""

    def __init__(
        self,
        datastore: PostgresDatastore,
        *,
        events_table_name: str = "stored_events",
        tracking_table_name: str = "notification_tracking",
    ) -> None:
        super().__init__(
            datastore, events_table_name=events_table_name, tracking_table_name=tracking_table_name
        )
        self.sql_create_statements.extend(create_statements(datastore.schema))

    def _insert_events(
        self, curs: psycopg.Cursor[DictRow], stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> None:
        super()._insert_events(curs, stored_events, **kwargs)
        canonical: str | None = kwargs.get("ledger_entry")
        if canonical is not None:
            append(curs, self.datastore.schema, canonical)


# -- reading and verifying -------------------------------------------------------------


@dataclass(frozen=True)
class Verification:
    ok: bool
    entries: int
    head: str
    first_bad_seq: int | None
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "entries": self.entries,
            "head": self.head,
            "first_bad_seq": self.first_bad_seq,
            "reason": self.reason,
        }


def stream_rows(
    conn: psycopg.Connection[Any], schema: str, after_seq: int = 0
) -> Iterator[tuple[int, str, str, str]]:
    query = sql.SQL(
        "SELECT seq, prev_hash, hash, event FROM {} WHERE seq > %s ORDER BY seq"
    ).format(ledger_table(schema))
    with conn.transaction(), conn.cursor(name="ledger_verify", row_factory=tuple_row) as cursor:
        cursor.itersize = VERIFY_BATCH
        cursor.execute(query, (after_seq,))
        yield from cursor


def verify_rows(
    rows: Iterator[tuple[int, str, str, str]], start_seq: int = 0, start_hash: str = GENESIS
) -> Verification:
    """Recompute the chain; a row is bad when its seq, prev_hash or hash is not the expected one."""
    expected, prev, sha256 = start_seq + 1, start_hash, hashlib.sha256
    for count, (seq, prev_hash, stored_hash, event) in enumerate(rows, start=1):
        if seq != expected:
            return _bad(expected, count - 1, prev, f"第 {expected} 条记录缺失或顺序被改动")
        if prev_hash != prev or sha256((prev + event).encode("utf-8")).hexdigest() != stored_hash:
            return _bad(seq, count - 1, prev, f"第 {seq} 条记录的内容或哈希与链不符")
        prev, expected = stored_hash, expected + 1
        if count % VERIFY_BATCH == 0:
            time.sleep(0)  # under eventlet, let other greenlets run between batches
    return Verification(True, expected - 1 - start_seq, prev, None)


def _bad(seq: int, good: int, head: str, reason: str) -> Verification:
    return Verification(False, good, head, seq, reason)


def entry_at(conn: psycopg.Connection[Any], schema: str, seq: int) -> tuple[str, str] | None:
    row = conn.cursor(row_factory=tuple_row).execute(
        sql.SQL("SELECT prev_hash, hash FROM {} WHERE seq = %s").format(ledger_table(schema)),
        (seq,),
    ).fetchone()
    return (row[0], row[1]) if row else None


def case_entries(
    conn: psycopg.Connection[Any], schema: str, case_id: str
) -> list[tuple[int, str, str, str]]:
    query = sql.SQL(
        "SELECT seq, prev_hash, hash, event FROM {} "
        "WHERE (event::jsonb) #>> '{{data,case_id}}' = %s ORDER BY seq"
    ).format(ledger_table(schema))
    return conn.cursor(row_factory=tuple_row).execute(query, (case_id,)).fetchall()


def count_entries(conn: psycopg.Connection[Any], schema: str) -> int:
    query = sql.SQL("SELECT count(*) FROM {}").format(ledger_table(schema))
    row = conn.cursor(row_factory=tuple_row).execute(query).fetchone()
    return int(row[0]) if row else 0
