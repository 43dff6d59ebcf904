"""Supervision read models: per-case and per-item facts folded from the ledger, and the figures.

Facts are folded in ledger order but every fold step commutes or is versioned (the
status and the due time follow the case's aggregate version), so a redelivered or
late event lands where it belongs. A period selects the cases *submitted* in it; a
department is held to account for the cases it leads (cases, closed, approved,
median_hours, trips_per_case, one_trip_rate, ratings, rectifications) and for its own
approval nodes (returns it made, its overdue nodes). "closed" means 办结, the contract's
``CONCLUDED_STATUSES`` (approved or rejected): a withdrawn case is closed but is not the
hall's result. All rates are 0..1.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from psycopg import Cursor, sql
from psycopg.rows import tuple_row
from psycopg.types.json import Jsonb
from pydantic_core import to_jsonable_python

from services.audit.ledgerlog import LedgerLog, wire_event
from shared.contracts import case_events as contract
from shared.followers import Follower, Position

Facts = dict[str, Any]
PROJECTION = "supervision"
PROJECTION_LOCK = 0x7375706572  # "super"
CATCH_UP_BATCH = 5_000
GOOD_RATING_MIN_SCORE = 4


# -- folding facts -----------------------------------------------------------------------


def new_case_facts(case_id: str) -> Facts:
    return {
        "case_id": case_id,
        "item_id": None,
        "department": None,
        "submitted_at": None,
        "due_at": None,
        "due_version": 0,
        "status": None,
        "status_version": 0,
        "closed_at": None,
        "trips": 0,
        "returns": {},
        "overdue": {},
        "score": None,
    }


def apply_case_event(facts: Facts, event: Mapping[str, Any]) -> None:
    case_event = contract.case_event(event["type"], event["data"])
    facts["department"] = case_event.lead_department
    facts["item_id"] = case_event.item_id
    handler = CASE_FACTS.get(type(case_event))
    if handler is not None:
        handler(facts, case_event, event["aggregate_version"])


def _submitted(facts: Facts, event: contract.CaseSubmitted, version: int) -> None:
    facts["submitted_at"] = to_jsonable_python(event.submitted_at)
    _resubmitted(facts, event, version)


def _resubmitted(
    facts: Facts, event: contract.CaseSubmitted | contract.CaseResubmitted, version: int
) -> None:
    if version > facts["due_version"]:
        facts["due_at"], facts["due_version"] = to_jsonable_python(event.due_at), version
    _status(facts, event, version)


def _status(facts: Facts, event: contract.CaseEvent, version: int) -> None:
    if version > facts["status_version"]:
        facts["status"], facts["status_version"] = contract.STATUS_AFTER[type(event)], version
        closed = isinstance(event, contract.CaseClosed)
        facts["closed_at"] = to_jsonable_python(event.closed_at) if closed else None


def _node_decided(facts: Facts, event: contract.NodeDecided, version: int) -> None:
    if event.decision == "return":
        _count(facts["returns"], event.department)


def _node_overdue(facts: Facts, event: contract.NodeOverdue, version: int) -> None:
    _count(facts["overdue"], event.department)


def _trip_recorded(facts: Facts, event: contract.TripRecorded, version: int) -> None:
    facts["trips"] += 1


def _rated(facts: Facts, event: contract.CaseRated, version: int) -> None:
    facts["score"] = event.score


CASE_FACTS: dict[type[contract.CaseEvent], Callable[[Facts, Any, int], None]] = {
    contract.CaseSubmitted: _submitted,
    contract.CaseIntakeRejected: _status,
    contract.CaseReturned: _status,
    contract.CaseResubmitted: _resubmitted,
    contract.CaseApproved: _status,
    contract.CaseRejected: _status,
    contract.CaseWithdrawn: _status,
    contract.NodeDecided: _node_decided,
    contract.NodeOverdue: _node_overdue,
    contract.TripRecorded: _trip_recorded,
    contract.CaseRated: _rated,
}
CASE_FACTS_IGNORE = frozenset({contract.NodeOpened, contract.NodeCancelled, contract.CaseUrged})


def apply_item_event(facts: Facts, event: Mapping[str, Any]) -> None:
    data, kind = event["data"], event["type"]
    if kind == "item_published" and data.get("version", 0) >= facts.get("version", 0):
        facts.update(
            item_id=data["item_id"],
            name=data.get("name"),
            department=data.get("department"),
            trips=data.get("trips"),
            mode=data.get("mode"),
            version=data.get("version", 0),
            published=True,
        )
    elif kind == "item_retired" and data.get("version", 0) >= facts.get("version", 0):
        facts.update(item_id=data["item_id"], published=False, version=data.get("version", 0))


def is_case_fact_event(event: Mapping[str, Any]) -> bool:
    return event.get("service") == "approval" and bool(event["data"].get("case_id"))


def is_item_fact_event(event: Mapping[str, Any]) -> bool:
    return event.get("service") == "catalogue" and event["type"] in (
        "item_published",
        "item_retired",
    )


def _count(counts: dict[str, int], key: str) -> None:
    counts[key] = counts.get(key, 0) + 1


# -- the projection tables -----------------------------------------------------------------


def create_statements(schema: str) -> list[sql.Composed]:
    return [
        sql.SQL(
            "CREATE TABLE IF NOT EXISTS {} (case_id text PRIMARY KEY,"
            " submitted_at timestamptz, facts jsonb NOT NULL)"
        ).format(sql.Identifier(schema, "case_facts")),
        sql.SQL("CREATE INDEX IF NOT EXISTS case_facts_submitted_idx ON {} (submitted_at)").format(
            sql.Identifier(schema, "case_facts")
        ),
        sql.SQL(
            "CREATE TABLE IF NOT EXISTS {} (item_id text PRIMARY KEY, facts jsonb NOT NULL)"
        ).format(sql.Identifier(schema, "item_facts")),
    ]


class SupervisionFacts(Follower[dict[str, Any]]):
    """The case and item facts, folded from the ledger in seq order."""

    position = Position(table="projection_position", name=PROJECTION, column="position")
    batch = CATCH_UP_BATCH

    def create_tables(self) -> None:
        with self.tables.transaction(commit=True) as curs:
            curs.execute("SELECT pg_advisory_xact_lock(%s)", (PROJECTION_LOCK,))
            for statement in create_statements(self.tables.schema):
                curs.execute(statement)
            self.create_position(curs)

    def entries_after(self, curs: Cursor[Any], position: int) -> list[tuple[int, Facts]]:
        notifications = LedgerLog(self.tables).select(
            start=position, limit=self.batch, inclusive_of_start=False
        )
        return [(notification.id, wire_event(notification)) for notification in notifications]

    def apply(self, curs: Cursor[Any], entries: Sequence[Facts]) -> None:
        _fold_batch(curs, self.tables.schema, list(entries))

    def rebuild(self) -> int:
        """Fold the whole ledger again from an empty read model; returns how many entries."""
        with self.tables.transaction(commit=True) as curs:
            self.rewind(curs)
            for table in ("case_facts", "item_facts"):
                curs.execute(sql.SQL("DELETE FROM {}").format(sql.Identifier(self.tables.schema, table)))
        return self.catch_up()


def _fold_batch(curs: Cursor[Any], schema: str, events: list[dict[str, Any]]) -> None:
    case_events = [event for event in events if is_case_fact_event(event)]
    item_events = [event for event in events if is_item_fact_event(event)]
    if case_events:
        _fold_cases(curs, schema, case_events)
    if item_events:
        _fold_items(curs, schema, item_events)


def _fold_cases(curs: Cursor[Any], schema: str, events: list[dict[str, Any]]) -> None:
    cases = _load(curs, schema, "case_facts", "case_id", {e["data"]["case_id"] for e in events})
    for event in events:
        case_id = event["data"]["case_id"]
        apply_case_event(cases.setdefault(case_id, new_case_facts(case_id)), event)
    _store_cases(curs, schema, cases)


def _fold_items(curs: Cursor[Any], schema: str, events: list[dict[str, Any]]) -> None:
    items = _load(curs, schema, "item_facts", "item_id", {e["data"]["item_id"] for e in events})
    for event in events:
        apply_item_event(items.setdefault(event["data"]["item_id"], {}), event)
    _store_items(curs, schema, items)


def _load(curs: Cursor[Any], schema: str, table: str, key: str, ids: set[str]) -> dict[str, Facts]:
    query = sql.SQL("SELECT {}, facts FROM {} WHERE {} = ANY(%s)").format(
        sql.Identifier(key), sql.Identifier(schema, table), sql.Identifier(key)
    )
    with curs.connection.cursor(row_factory=tuple_row) as reader:
        return {row[0]: row[1] for row in reader.execute(query, (list(ids),))}


def _store_cases(curs: Cursor[Any], schema: str, cases: dict[str, Facts]) -> None:
    curs.executemany(
        sql.SQL(
            "INSERT INTO {} (case_id, submitted_at, facts) VALUES (%s, %s, %s)"
            " ON CONFLICT (case_id) DO UPDATE"
            " SET submitted_at = EXCLUDED.submitted_at, facts = EXCLUDED.facts"
        ).format(sql.Identifier(schema, "case_facts")),
        [
            (case_id, _optional_moment(facts["submitted_at"]), Jsonb(facts))
            for case_id, facts in cases.items()
        ],
    )


def _store_items(curs: Cursor[Any], schema: str, items: dict[str, Facts]) -> None:
    curs.executemany(
        sql.SQL(
            "INSERT INTO {} (item_id, facts) VALUES (%s, %s)"
            " ON CONFLICT (item_id) DO UPDATE SET facts = EXCLUDED.facts"
        ).format(sql.Identifier(schema, "item_facts")),
        [(item_id, Jsonb(facts)) for item_id, facts in items.items()],
    )


def cases_submitted(
    curs: Cursor[Any], schema: str, from_: datetime | None, to: datetime | None
) -> list[Facts]:
    query = sql.SQL(
        "SELECT facts FROM {} WHERE submitted_at IS NOT NULL"
        " AND (%s::timestamptz IS NULL OR submitted_at >= %s)"
        " AND (%s::timestamptz IS NULL OR submitted_at < %s) ORDER BY case_id"
    ).format(sql.Identifier(schema, "case_facts"))
    with curs.connection.cursor(row_factory=tuple_row) as reader:
        return [row[0] for row in reader.execute(query, (from_, from_, to, to))]


def all_items(curs: Cursor[Any], schema: str) -> list[Facts]:
    query = sql.SQL("SELECT facts FROM {} ORDER BY item_id").format(sql.Identifier(schema, "item_facts"))
    with curs.connection.cursor(row_factory=tuple_row) as reader:
        return [row[0] for row in reader.execute(query)]


# -- figures -------------------------------------------------------------------------------


def department_figures(
    cases: Iterable[Facts], open_rectifications: Mapping[str, int]
) -> list[dict[str, Any]]:
    led: dict[str, list[Facts]] = defaultdict(list)
    returns: dict[str, int] = defaultdict(int)
    overdue: dict[str, int] = defaultdict(int)
    for facts in cases:
        led[facts["department"]].append(facts)
        for department, count in facts["returns"].items():
            returns[department] += count
        for department, count in facts["overdue"].items():
            overdue[department] += count
    departments = sorted(set(led) | set(returns) | set(overdue) | set(open_rectifications))
    return [
        _department(d, led.get(d, []), returns[d], overdue[d], open_rectifications.get(d, 0))
        for d in departments
    ]


def _department(
    department: str, cases: list[Facts], returns: int, overdue: int, open_rectifications: int
) -> dict[str, Any]:
    closed = [facts for facts in cases if facts["status"] in contract.CONCLUDED_STATUSES]
    scores = [facts["score"] for facts in cases if facts["score"] is not None]
    return {
        "department": department,
        "cases": len(cases),
        "closed": len(closed),
        "approved": sum(facts["status"] == "approved" for facts in cases),
        "returns": returns,
        "overdue": overdue,
        "median_hours": _round(statistics.median(map(_hours, closed))) if closed else None,
        "trips_per_case": _ratio(sum(facts["trips"] for facts in cases), len(cases)),
        "one_trip_rate": _ratio(sum(facts["trips"] <= 1 for facts in closed), len(closed)),
        "rating_avg": _ratio(sum(scores), len(scores)),
        "bad_reviews": sum(contract.is_bad_review(score) for score in scores),
        "open_rectifications": open_rectifications,
    }


def school_measures(
    cases: list[Facts], items: list[Facts], open_rectifications: int
) -> dict[str, Any]:
    scores = [facts["score"] for facts in cases if facts["score"] is not None]
    return {
        **_item_measures(items),
        **_case_measures(cases),
        "good_rating_rate": _ratio(
            sum(score >= GOOD_RATING_MIN_SCORE for score in scores), len(scores)
        ),
        "bad_reviews": sum(contract.is_bad_review(score) for score in scores),
        "open_rectifications": open_rectifications,
    }


def _item_measures(items: list[Facts]) -> dict[str, Any]:
    published = [item for item in items if item.get("published")]
    online = sum(item.get("mode") == "online" for item in published)
    return {"items_published": len(published), "online_rate": _ratio(online, len(published))}


def _case_measures(cases: list[Facts]) -> dict[str, Any]:
    closed = [facts for facts in cases if facts["status"] in contract.CONCLUDED_STATUSES]
    with_deadline = [facts for facts in closed if facts["due_at"]]
    return {
        "cases": len(cases),
        "closed": len(closed),
        "zero_trip_rate": _ratio(sum(facts["trips"] == 0 for facts in closed), len(closed)),
        "one_trip_rate": _ratio(sum(facts["trips"] <= 1 for facts in closed), len(closed)),
        "deadline_compliance": _ratio(
            sum(_on_time(facts) for facts in with_deadline), len(with_deadline)
        ),
    }


def _hours(facts: Facts) -> float:
    elapsed = _moment(facts["closed_at"]) - _moment(facts["submitted_at"])
    return elapsed.total_seconds() / 3600


def _on_time(facts: Facts) -> bool:
    return _moment(facts["closed_at"]) <= _moment(facts["due_at"])


def _moment(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _optional_moment(value: str | None) -> datetime | None:
    return _moment(value) if value else None


def _ratio(part: float, whole: int) -> float | None:
    return _round(part / whole) if whole else None


def _round(value: float) -> float:
    return round(value, 4)
