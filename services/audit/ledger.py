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
import re
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


def ledger_table(schema: str) -> sql.Identifier:
    return sql.Identifier(schema, LEDGER_TABLE)


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
            " FROM (SELECT"
            "  COALESCE((SELECT seq FROM {table} ORDER BY seq DESC LIMIT 1), 0) AS seq,"
            "  COALESCE((SELECT hash FROM {table} ORDER BY seq DESC LIMIT 1), %(genesis)s) AS hash"
            " ) AS head"
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


Row = tuple[int, bytes, bytes, bytes]  # seq, prev_hash, hash, event (UTF-8)
COPY_ESCAPES = {b"b": b"\b", b"f": b"\f", b"n": b"\n", b"r": b"\r", b"t": b"\t", b"v": b"\v"}
COPY_ESCAPE = re.compile(rb"\\(.)", re.DOTALL)


def stream_rows(conn: psycopg.Connection[Any], schema: str, after_seq: int = 0) -> Iterator[Row]:
    """The ledger in seq order as raw bytes, through COPY: no per-row decoding at all."""
    query = sql.SQL(
        "COPY (SELECT seq, prev_hash, hash, event FROM {} WHERE seq > {} ORDER BY seq) TO STDOUT"
    ).format(ledger_table(schema), sql.Literal(after_seq))
    with conn.cursor().copy(query) as copy:
        pending = b""
        for block in copy:
            lines = (pending + bytes(block)).split(b"\n")
            pending = lines.pop()
            for line in lines:
                seq, prev_hash, stored_hash, event = line.split(b"\t")
                yield (
                    int(seq),
                    prev_hash,
                    stored_hash,
                    _unescape(event) if b"\\" in event else event,
                )


def _unescape(field: bytes) -> bytes:
    # COPY's text format escapes the backslash and control characters of a field.
    return COPY_ESCAPE.sub(lambda match: COPY_ESCAPES.get(match.group(1), match.group(1)), field)


def verify_rows(rows: Iterator[Row], start_seq: int = 0, start_hash: str = GENESIS) -> Verification:
    """Recompute the chain; a row is bad when its seq, prev_hash or hash is not the expected one."""
    expected, prev, sha256 = start_seq + 1, start_hash.encode("ascii"), hashlib.sha256
    for count, (seq, prev_hash, stored_hash, event) in enumerate(rows, start=1):
        if seq != expected:
            return _bad(expected, count - 1, prev, f"第 {expected} 条记录缺失或顺序被改动")
        if prev_hash != prev or sha256(prev + event).hexdigest().encode("ascii") != stored_hash:
            return _bad(seq, count - 1, prev, f"第 {seq} 条记录的内容或哈希与链不符")
        prev, expected = stored_hash, expected + 1
        if count % VERIFY_BATCH == 0:
            time.sleep(0)  # under eventlet, let other greenlets run between batches
    return Verification(True, expected - 1 - start_seq, prev.decode("ascii"), None)


def _bad(seq: int, good: int, head: bytes, reason: str) -> Verification:
    return Verification(False, good, head.decode("ascii", "replace"), seq, reason)


def entry_at(conn: psycopg.Connection[Any], schema: str, seq: int) -> tuple[str, str] | None:
    row = (
        conn.cursor(row_factory=tuple_row)
        .execute(
            sql.SQL("SELECT prev_hash, hash FROM {} WHERE seq = %s").format(ledger_table(schema)),
            (seq,),
        )
        .fetchone()
    )
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
