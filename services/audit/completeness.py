"""What the ledger must hold, and what it lacks (``LEDGER.md``, "Completeness").

Three tables beside the ledger, written only by the audit service:

- ``expected_events``: each integration event a relay's manifest lists and the ledger did
  not hold yet when the manifest arrived; rows the ledger has since appended are pruned.
- ``manifest_coverage``: per service and application, the stretches ``(low, high]`` of its
  notification log that manifests have covered, merged; two stretches mean a manifest
  never arrived.
- ``dead_letters``: every dead letter seen on the dead-letter exchange (any consumer's),
  and when it was replayed.

An event is missing when the ledger has no tracking row for it and either a consumer of the
ledger dead-lettered it (at once) or a manifest announced it more than the grace period ago
and the ledger has since moved past it (or ten grace periods went by).
"""

from __future__ import annotations

from typing import Any

from psycopg import Cursor, sql

from shared.contracts.manifest import Manifest
from shared.sightings import Sighting

EXPECTED, COVERAGE, DEAD_LETTERS = "expected_events", "manifest_coverage", "dead_letters"
LATE_FACTOR = 10  # not passed by later events either: missing after ten grace periods
MISSING_SHOWN = 1_000
DEAD_LETTERS_SHOWN = 200


def create_statements(schema: str) -> list[sql.Composed]:
    return [
        sql.SQL(
            "CREATE TABLE IF NOT EXISTS {} (service text NOT NULL, notification_id bigint NOT NULL,"
            " event_id text, type text, announced_at timestamptz NOT NULL DEFAULT now(),"
            " PRIMARY KEY (service, notification_id))"
        ).format(sql.Identifier(schema, EXPECTED)),
        sql.SQL(
            "CREATE TABLE IF NOT EXISTS {} (service text NOT NULL, application text NOT NULL,"
            " low bigint NOT NULL, high bigint NOT NULL, received_at timestamptz NOT NULL,"
            " PRIMARY KEY (service, application, low))"
        ).format(sql.Identifier(schema, COVERAGE)),
        sql.SQL(
            "CREATE TABLE IF NOT EXISTS {} (dead_letter_id text PRIMARY KEY, queue text,"
            " service text, notification_id bigint, event_id text, type text, reason text,"
            " dead_lettered_at timestamptz, replayed_at timestamptz)"
        ).format(sql.Identifier(schema, DEAD_LETTERS)),
        sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} (service, notification_id)").format(
            sql.Identifier(f"{DEAD_LETTERS}_event_idx"), sql.Identifier(schema, DEAD_LETTERS)
        ),
    ]


# -- recording ----------------------------------------------------------------------------


def record_manifest(
    curs: Cursor[Any], schema: str, tracking: sql.Composed, manifest: Manifest
) -> None:
    """Idempotent: a manifest read twice, or by two instances at once, records the same."""
    key = f"onetrip-manifest:{schema}:{manifest.service}/{manifest.application}"
    curs.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (key,))
    curs.execute(
        _MERGE.format(coverage=sql.Identifier(schema, COVERAGE)),
        manifest.model_dump(include={"service", "application", "after", "through"}),
    )
    if manifest.events:
        curs.execute(
            _EXPECT.format(expected=sql.Identifier(schema, EXPECTED), tracking=tracking),
            {
                "service": manifest.service,
                "ids": [entry.notification_id for entry in manifest.events],
                "event_ids": [str(entry.event_id) for entry in manifest.events],
                "types": [entry.type for entry in manifest.events],
            },
        )


# Stretches (low, high] and (after, through] that overlap or touch become one.
_MERGE = sql.SQL(
    "WITH touching AS (DELETE FROM {coverage} WHERE service = %(service)s"
    " AND application = %(application)s AND low <= %(through)s AND high >= %(after)s"
    " RETURNING low, high, received_at)"
    " INSERT INTO {coverage} (service, application, low, high, received_at)"
    " SELECT %(service)s, %(application)s, LEAST(%(after)s, min(low)),"
    " GREATEST(%(through)s, max(high)), LEAST(now(), min(received_at)) FROM touching"
)
_EXPECT = sql.SQL(
    "INSERT INTO {expected} (service, notification_id, event_id, type)"
    " SELECT %(service)s, m.id, m.event_id, m.type"
    " FROM unnest(%(ids)s::bigint[], %(event_ids)s::text[], %(types)s::text[]) AS m(id, event_id, type)"
    " WHERE NOT EXISTS (SELECT 1 FROM {tracking} t"
    "  WHERE t.application_name = %(service)s AND t.notification_id = m.id)"
    " ON CONFLICT DO NOTHING"
)


def record_sighting(curs: Cursor[Any], schema: str, sighting: Sighting) -> None:
    """A dead letter and its replay notice may arrive in either order, or twice."""
    table = sql.Identifier(schema, DEAD_LETTERS)
    if sighting.replayed:
        curs.execute(
            sql.SQL(
                "INSERT INTO {t} (dead_letter_id, replayed_at) VALUES (%s, %s)"
                " ON CONFLICT (dead_letter_id) DO UPDATE"
                " SET replayed_at = COALESCE({t}.replayed_at, EXCLUDED.replayed_at)"
            ).format(t=table),
            (sighting.dead_letter_id, sighting.at),
        )
        return
    curs.execute(
        sql.SQL(
            "INSERT INTO {t} (dead_letter_id, queue, service, notification_id, event_id, type,"
            " reason, dead_lettered_at)"
            " VALUES (%(dead_letter_id)s, %(queue)s, %(service)s, %(notification_id)s,"
            " %(event_id)s, %(type)s, %(reason)s, %(at)s)"
            " ON CONFLICT (dead_letter_id) DO UPDATE SET queue = EXCLUDED.queue,"
            " service = EXCLUDED.service, notification_id = EXCLUDED.notification_id,"
            " event_id = EXCLUDED.event_id, type = EXCLUDED.type, reason = EXCLUDED.reason,"
            " dead_lettered_at = EXCLUDED.dead_lettered_at WHERE {t}.dead_lettered_at IS NULL"
        ).format(t=table),
        sighting.__dict__,
    )


def prune(curs: Cursor[Any], schema: str, tracking: sql.Composed) -> int:
    """Forget expected events the ledger has appended: the table keeps what is in flight."""
    curs.execute(
        sql.SQL(
            "DELETE FROM {} e USING {} t"
            " WHERE t.application_name = e.service AND t.notification_id = e.notification_id"
        ).format(sql.Identifier(schema, EXPECTED), tracking)
    )
    return curs.rowcount


# -- reading ------------------------------------------------------------------------------


def missing(
    curs: Cursor[Any], schema: str, tracking: sql.Composed, grace: float, queues: list[str]
) -> tuple[list[dict[str, Any]], int]:
    """Expected or dead-lettered events the ledger lacks, then stretches no manifest covered."""
    curs.execute(
        _MISSING.format(
            expected=sql.Identifier(schema, EXPECTED), dead=sql.Identifier(schema, DEAD_LETTERS), tracking=tracking
        ),
        {"queues": queues, "grace": grace, "late": grace * LATE_FACTOR, "shown": MISSING_SHOWN},
    )
    rows = curs.fetchall()
    found = [_missing_event(row, grace) for row in rows]
    total = int(rows[0]["total"]) if rows else 0
    curs.execute(_GAPS.format(coverage=sql.Identifier(schema, COVERAGE)), {"grace": grace})
    gaps = [_missing_stretch(row) for row in curs.fetchall()]
    return (found + gaps)[:MISSING_SHOWN], total + len(gaps)


_MISSING = sql.SQL(
    "WITH dead AS (SELECT DISTINCT ON (service, notification_id) service, notification_id,"
    "  event_id, type, reason, queue, dead_lettered_at, replayed_at FROM {dead}"
    "  WHERE queue = ANY(%(queues)s) AND service IS NOT NULL AND notification_id IS NOT NULL"
    "  ORDER BY service, notification_id, dead_lettered_at DESC),"
    " candidate AS (SELECT service, notification_id, COALESCE(e.type, d.type) AS type,"
    "  COALESCE(e.event_id, d.event_id) AS event_id, e.announced_at, d.reason, d.queue,"
    "  d.dead_lettered_at, d.replayed_at FROM {expected} e FULL JOIN dead d USING (service, notification_id))"
    " SELECT c.*, EXTRACT(EPOCH FROM now() - c.announced_at) AS age, count(*) OVER () AS total"
    " FROM candidate c"
    " WHERE NOT EXISTS (SELECT 1 FROM {tracking} t"
    "  WHERE t.application_name = c.service AND t.notification_id = c.notification_id)"
    " AND (c.reason IS NOT NULL OR (c.announced_at < now() - make_interval(secs => %(grace)s)"
    "  AND (c.announced_at < now() - make_interval(secs => %(late)s) OR EXISTS (SELECT 1"
    "   FROM {tracking} t WHERE t.application_name = c.service AND t.notification_id > c.notification_id))))"
    " ORDER BY c.service, c.notification_id LIMIT %(shown)s"
)
_GAPS = sql.SQL(
    "SELECT service, application, high, next_low FROM (SELECT service, application, high,"
    "  received_at, lead(low) OVER w AS next_low, lead(received_at) OVER w AS next_received"
    "  FROM {coverage} WINDOW w AS (PARTITION BY service, application ORDER BY low)) s"
    " WHERE next_low IS NOT NULL"
    " AND GREATEST(received_at, next_received) < now() - make_interval(secs => %(grace)s)"
    " ORDER BY service, application, high"
)


def _missing_event(row: dict[str, Any], grace: float) -> dict[str, Any]:
    if row["reason"] is not None:
        state = "已重放，尚未记入账本" if row["replayed_at"] else "等待重放"
        reason = f"已转入死信队列（{row['queue']}，{state}）：{row['reason']}"
        since = row["dead_lettered_at"]
    else:
        reason = (
            f"清单列出此事件 {row['age']:.0f} 秒后仍未记入账本（宽限 {grace:g} 秒），消息可能已丢失"
        )
        since = row["announced_at"]
    return {
        "service": row["service"],
        "notification_id": int(row["notification_id"]),
        "reason": reason,
        "type": row["type"],
        "event_id": row["event_id"],
        "since": since.isoformat() if since else None,
    }


def _missing_stretch(row: dict[str, Any]) -> dict[str, Any]:
    first, last = int(row["high"]) + 1, int(row["next_low"])
    return {
        "service": row["service"],
        "notification_id": first,
        "reason": f"清单缺失：{row['service']} 第 {first}–{last} 号通知没有收到发布清单，"
        "无法确认其中的事件都已记入账本",
        "type": None,
        "event_id": None,
        "since": None,
    }


def waiting_dead_letters(curs: Cursor[Any], schema: str) -> tuple[list[dict[str, Any]], int]:
    """Dead letters of every consumer not replayed yet, the latest first."""
    curs.execute(
        sql.SQL(
            "SELECT *, count(*) OVER () AS total FROM {} WHERE replayed_at IS NULL"
            " AND dead_lettered_at IS NOT NULL ORDER BY dead_lettered_at DESC LIMIT %s"
        ).format(sql.Identifier(schema, DEAD_LETTERS)),
        (DEAD_LETTERS_SHOWN,),
    )
    rows = curs.fetchall()
    return [_dead_letter(row) for row in rows], int(rows[0]["total"]) if rows else 0


def _dead_letter(row: dict[str, Any]) -> dict[str, Any]:
    queue = row["queue"] or ""
    return {
        "dead_letter_id": row["dead_letter_id"],
        "queue": queue,
        "consumer": queue.rpartition("--")[2].partition(".")[0] or None,
        "service": row["service"],
        "notification_id": row["notification_id"],
        "event_id": row["event_id"],
        "type": row["type"],
        "reason": row["reason"],
        "at": row["dead_lettered_at"].isoformat(),
    }
