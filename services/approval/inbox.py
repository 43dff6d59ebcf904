"""The approvers' inbox and the staff's case index: read models of the case events.

Tables in the ``approval`` schema, kept from the application's own notification log:
``tasks`` (one row per pending node, removed when it is decided or cancelled),
``case_departments`` (which departments have a node in a case), ``applicant_cases`` (each
applicant's cases) and ``case_files`` (which files a case cites). Each catch-up applies the
contract's case events the aggregate recorded (what the bus carries) and stores its position in
the same transaction; a row lock on the position serialises the catch-ups of several instances, so each event is applied once.
Commands catch up right after saving (callers read their own writes) and the service
catches up at start, so a crash in between heals itself.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, ClassVar

from psycopg import sql

from services.approval.stored import recorded_case_event
from shared.contracts import case_events as contract
from shared.followers import NotificationLogFollower, Position

BATCH = 500
TABLES = """
CREATE TABLE IF NOT EXISTS {schema}.tasks (
    task_id text PRIMARY KEY, case_id text NOT NULL, node_id text NOT NULL,
    item_id text NOT NULL, item_name text NOT NULL, department text NOT NULL,
    applicant text NOT NULL, created_at timestamptz NOT NULL, due_at timestamptz,
    overdue boolean NOT NULL DEFAULT false);
CREATE INDEX IF NOT EXISTS tasks_by_department ON {schema}.tasks (department, created_at);
CREATE INDEX IF NOT EXISTS tasks_by_due ON {schema}.tasks (due_at) WHERE NOT overdue;
CREATE TABLE IF NOT EXISTS {schema}.case_departments (
    case_id text NOT NULL, department text NOT NULL, submitted_at timestamptz NOT NULL,
    PRIMARY KEY (department, case_id));
CREATE TABLE IF NOT EXISTS {schema}.applicant_cases (
    applicant text NOT NULL, case_id text NOT NULL, submitted_at timestamptz NOT NULL,
    PRIMARY KEY (applicant, case_id));
CREATE INDEX IF NOT EXISTS applicant_cases_newest
    ON {schema}.applicant_cases (applicant, submitted_at DESC);
CREATE TABLE IF NOT EXISTS {schema}.case_files (
    file_id text NOT NULL, case_id text NOT NULL, PRIMARY KEY (file_id, case_id));
"""


class TaskInbox(NotificationLogFollower):
    position = Position(table="inbox_position", name="inbox")
    batch = BATCH

    def create_tables(self) -> None:
        with self.tables.transaction(commit=True) as curs:
            curs.execute("SELECT pg_advisory_xact_lock(hashtext('onetrip-approval-inbox-ddl'))")
            curs.execute(
                "SELECT to_regclass(%s) IS NOT NULL AS present",
                (f"{self.tables.schema}.applicant_cases",),
            )
            had_applicant_cases = curs.fetchone()["present"]
            self.create_position(curs)
            for statement in TABLES.split(";"):
                if statement.strip():
                    curs.execute(self._q(statement))
            if not had_applicant_cases:
                self._backfill_applicant_cases(curs)

    def _backfill_applicant_cases(self, curs: Any) -> None:
        """A store from before the ``applicant_cases`` table (each applicant's cases were an
        aggregate then): fill it from the case events the inbox has already passed."""
        upto, start = self._locked_position(curs), 0
        while start < upto:
            notifications = list(self.notifications(start, BATCH, stop=upto))
            if not notifications:
                return
            for notification in notifications:
                event = self._case_event(notification)
                if isinstance(event, contract.CaseSubmitted):
                    self._add_applicant_case(curs, event)
            start = notifications[-1].id

    def _q(self, text: str) -> sql.Composed:
        return self.tables.query(text)

    # -- keeping up ------------------------------------------------------------------

    def apply(self, curs: Any, entries: Sequence[Any]) -> None:
        for domain_event in entries:
            recorded = recorded_case_event(domain_event)
            self._apply(curs, None if recorded is None else recorded[0])

    def _case_event(self, notification: Any) -> contract.CaseEvent | None:
        recorded = recorded_case_event(self.app.mapper.to_domain_event(notification))
        return None if recorded is None else recorded[0]

    def _apply(self, curs: Any, event: contract.CaseEvent | None) -> None:
        handler = None if event is None else self.HANDLERS.get(type(event))
        if handler is not None:
            handler(self, curs, event)

    def _node_opened(self, curs: Any, event: contract.NodeOpened) -> None:
        curs.execute(
            self._q(
                "INSERT INTO {schema}.tasks (task_id, case_id, node_id, item_id, item_name, department, "
                "applicant, created_at, due_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) "
                "ON CONFLICT (task_id) DO NOTHING"
            ),
            (
                event.task_id, event.case_id, event.node_id, event.item_id, event.item_name,
                event.department, event.applicant, event.opened_at, event.due_at,
            ),
        )

    def _node_closed(self, curs: Any, event: contract.NodeDecided | contract.NodeCancelled) -> None:
        curs.execute(self._q("DELETE FROM {schema}.tasks WHERE task_id = %s"), (event.task_id,))

    def _case_closed(self, curs: Any, event: contract.CaseClosed) -> None:
        curs.execute(self._q("DELETE FROM {schema}.tasks WHERE case_id = %s"), (event.case_id,))

    def _node_overdue(self, curs: Any, event: contract.NodeOverdue) -> None:
        curs.execute(self._q("UPDATE {schema}.tasks SET overdue = true WHERE task_id = %s"), (event.task_id,))

    def _case_submitted(self, curs: Any, event: contract.CaseSubmitted) -> None:
        for department in _flow_departments(event):
            curs.execute(
                self._q(
                    "INSERT INTO {schema}.case_departments VALUES (%s, %s, %s) ON CONFLICT DO NOTHING"
                ),
                (event.case_id, department, event.submitted_at),
            )
        self._add_applicant_case(curs, event)
        self._cite_files(curs, event)

    def _add_applicant_case(self, curs: Any, event: contract.CaseSubmitted) -> None:
        curs.execute(
            self._q(
                "INSERT INTO {schema}.applicant_cases (applicant, case_id, submitted_at) "
                "VALUES (%s, %s, %s) ON CONFLICT DO NOTHING"
            ),
            (event.applicant, event.case_id, event.submitted_at),
        )

    def _cite_files(self, curs: Any, event: contract.CaseSubmitted | contract.CaseResubmitted) -> None:
        for file_id in event.materials.values():
            curs.execute(
                self._q("INSERT INTO {schema}.case_files VALUES (%s, %s) ON CONFLICT DO NOTHING"),
                (file_id, event.case_id),
            )

    HANDLERS: ClassVar[dict[type[contract.CaseEvent], Callable[[TaskInbox, Any, Any], None]]] = {
        contract.NodeOpened: _node_opened,
        contract.NodeDecided: _node_closed,
        contract.NodeCancelled: _node_closed,
        contract.NodeOverdue: _node_overdue,
        contract.CaseWithdrawn: _case_closed,
        contract.CaseRejected: _case_closed,
        contract.CaseSubmitted: _case_submitted,
        contract.CaseResubmitted: _cite_files,
    }
    IGNORES: ClassVar[frozenset[type[contract.CaseEvent]]] = frozenset({
        contract.CaseIntakeRejected,  # no node was opened
        contract.CaseReturned,  # its pending nodes were each cancelled
        contract.CaseApproved,  # every node was decided
        contract.CaseUrged,
        contract.TripRecorded,
        contract.CaseRated,
    })

    # -- reading -----------------------------------------------------------------------

    def _select(self, query: str, params: tuple[Any, ...]) -> list[dict[str, Any]]:
        with self.tables.transaction(commit=False) as curs:
            curs.execute(self._q(query), params)
            return list(curs.fetchall())

    def tasks(self, department: str) -> list[dict[str, Any]]:
        rows = self._select(
            "SELECT task_id, case_id, node_id, item_id, item_name, department, applicant, "
            "created_at, due_at, overdue FROM {schema}.tasks WHERE department = %s "
            "ORDER BY created_at, task_id",
            (department,),
        )
        return [_task(row) for row in rows]

    def case_ids(self, department: str) -> list[str]:
        """The cases the department has a node in, newest first."""
        return self.case_page(department=department)[0]

    def applicant_case_ids(self, applicant: str) -> list[str]:
        """The applicant's cases, newest first."""
        return self.case_page(applicant=applicant)[0]

    def case_page(
        self,
        *,
        applicant: str | None = None,
        department: str | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> tuple[list[str], int]:
        """One page of an applicant's or a department's cases, newest first, and how many
        there are in all."""
        if (applicant is None) == (department is None):
            raise ValueError("an applicant or a department, not both")
        table, column, value = (
            ("applicant_cases", "applicant", applicant)
            if applicant is not None
            else ("case_departments", "department", department)
        )
        query = sql.SQL(
            "SELECT (SELECT count(*) FROM {schema}.{table} WHERE {column} = %(value)s) AS total,"
            " ARRAY(SELECT case_id FROM {schema}.{table} WHERE {column} = %(value)s"
            " ORDER BY submitted_at DESC, case_id LIMIT %(limit)s OFFSET %(offset)s) AS case_ids"
        ).format(schema=sql.Identifier(self.tables.schema), table=sql.Identifier(table), column=sql.Identifier(column))
        with self.tables.transaction(commit=False) as curs:
            curs.execute(query, {"value": value, "limit": limit, "offset": offset})
            row = curs.fetchone()
            return list(row["case_ids"]), int(row["total"])

    def file_cited_for(self, file_id: str, department: str) -> bool:
        return bool(self._select(
            "SELECT 1 FROM {schema}.case_files f JOIN {schema}.case_departments d "
            "USING (case_id) WHERE f.file_id = %s AND d.department = %s LIMIT 1",
            (file_id, department),
        ))

    def overdue_candidates(self, now: datetime) -> list[tuple[str, str]]:
        rows = self._select(
            "SELECT case_id, node_id FROM {schema}.tasks "
            "WHERE NOT overdue AND due_at < %s ORDER BY due_at LIMIT 500",
            (now,),
        )
        return [(row["case_id"], row["node_id"]) for row in rows]


def _flow_departments(event: contract.CaseSubmitted) -> Iterable[str]:
    departments = {event.department}
    for stage in event.flow.stages:
        departments.update(node.department for node in stage.nodes)
    return sorted(departments)


def _iso(value: Any) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else value


def _task(row: dict[str, Any]) -> dict[str, Any]:
    task = {key: row[key] for key in ("task_id", "case_id", "node_id", "item_id", "item_name",
                                       "department", "applicant", "overdue")}
    task["created_at"] = _iso(row["created_at"])
    task["due_at"] = _iso(row["due_at"])
    return task
