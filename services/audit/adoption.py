"""A store from before the audit was split into applications kept the rectifications and
experience checks in the ledger application's stream (``audit_events``). The rectifications
application adopts them once, notification ids and the relay's position included, so nothing
is lost or published twice."""

from __future__ import annotations

from psycopg import Cursor, sql
from psycopg.rows import DictRow

from shared.followers import Tables

FORMER_EVENTS, FORMER_APPLICATION = "audit_events", "audit"
COLUMNS = sql.SQL("originator_id, originator_version, topic, state, notification_id")


def adopt_former_stream(tables: Tables, events_table: str, application: str) -> None:
    mine, former = _name(tables, events_table), _name(tables, FORMER_EVENTS)
    with tables.transaction(commit=True) as curs:
        curs.execute("SELECT pg_advisory_xact_lock(hashtext('onetrip-audit-adoption'))")
        if not _exists(curs, tables, FORMER_EVENTS) or _has_rows(curs, mine):
            return
        curs.execute(
            sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {} ORDER BY notification_id").format(
                mine, COLUMNS, COLUMNS, former
            )
        )
        curs.execute(
            sql.SQL(
                "SELECT setval(pg_get_serial_sequence(%s, 'notification_id'),"
                " GREATEST((SELECT max(notification_id) FROM {}), 1))"
            ).format(mine),
            (f"{tables.schema}.{events_table}",),
        )
        if _exists(curs, tables, "relay_position"):
            curs.execute(
                tables.query(
                    "INSERT INTO {schema}.relay_position (application, notification_id,"
                    " manifested_through) SELECT %s, notification_id, manifested_through"
                    " FROM {schema}.relay_position WHERE application = %s ON CONFLICT DO NOTHING"
                ),
                (application, FORMER_APPLICATION),
            )


def _name(tables: Tables, table: str) -> sql.Identifier:
    return sql.Identifier(tables.schema, table)


def _exists(curs: Cursor[DictRow], tables: Tables, table: str) -> bool:
    curs.execute("SELECT to_regclass(%s) IS NOT NULL AS present", (f"{tables.schema}.{table}",))
    row = curs.fetchone()
    return bool(row and row["present"])


def _has_rows(curs: Cursor[DictRow], table: sql.Composable) -> bool:
    curs.execute(sql.SQL("SELECT EXISTS (SELECT 1 FROM {}) AS present").format(table))
    row = curs.fetchone()
    return bool(row and row["present"])
