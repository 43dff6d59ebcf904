"""The audit application: the ledger, verify, replay, supervision, 好差评 and experience checks."""

from __future__ import annotations

import json
import os
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

from eventsourcing.application import AggregateNotFoundError, ProcessingEvent
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import IntegrityError, Tracking
from psycopg import Connection, Cursor

from services.audit import ledger, supervision
from services.audit.domain import (
    OPEN_RECTIFICATION,
    ItemChecks,
    Rectification,
    item_checks_id,
    rectification_id,
    working_deadline,
)
from services.audit.integrity import LedgerIntegrity
from services.audit.replay import parse_moment, rebuild_case, timeline_entry, timeline_order
from services.audit.report import report_workbook
from shared.contracts import SCHEMA_VERSION, IntegrationEvent
from shared.contracts.case_events import BAD_REVIEW_MAX_SCORE
from shared.errors import InvalidError, NotFoundError
from shared.eventstore import (
    CORRELATION_ATTRIBUTE,
    ConsumingApplication,
    Publication,
    retry_on_conflict,
)

RECTIFICATION_DAYS_VARIABLE = "ONETRIP_RECTIFICATION_DAYS"
T = TypeVar("T", datetime, datetime | None)
RECTIFY_ACTIONS = ("start", "complete", "request_invalid", "rule_invalid", "rule_valid")


class AppendFaultError(RuntimeError):
    """Raised on purpose when a test asks for it (``ONETRIP_FAULT=audit_append:<type>``)."""


class AuditApplication(LedgerIntegrity, ConsumingApplication):
    name = "audit"
    service = "audit"

    def __init__(self, env: dict[str, str] | None = None) -> None:
        topic = "services.audit.ledger:LedgerRecorder"
        super().__init__({**(env or {}), "PROCESS_RECORDER_TOPIC": topic})
        self.schema: str = self.recorder.datastore.schema  # type: ignore[attr-defined]
        self.ledger_name = f"{self.env.get('POSTGRES_DBNAME', 'onetrip')}/{self.schema}"
        self._create_read_models()
        self.establish_checkpoint()

    # -- the ledger ----------------------------------------------------------------------

    def consume(self, event: IntegrationEvent) -> bool:
        """Apply an event once; a duplicate fails on its tracking row and appends nothing.

        Unlike the base class this asks "seen already?" only after a conflict: a round trip
        saved on every append, where duplicates are the exception.
        """
        if event.schema_version != SCHEMA_VERSION:
            return super().consume(event)  # raises UnsupportedSchemaError
        tracking = Tracking(application_name=event.service, notification_id=event.notification_id)
        for _ in range(20):
            try:
                self.process_event(event, tracking)  # type: ignore[arg-type]
                return True
            except IntegrityError:
                if self.has_consumed(event.service, event.notification_id):
                    return False
        raise IntegrityError(f"could not append {event.type} {event.event_id} after 20 attempts")

    def policy(self, domain_event: Any, processing_event: ProcessingEvent[Any]) -> None:
        event: IntegrationEvent = domain_event
        if os.environ.get("ONETRIP_FAULT") == f"audit_append:{event.type}":
            raise AppendFaultError(f"故障注入：审计服务无法记入 {event.type} 事件")
        reactions = self._reactions(event)
        canonical = ledger.canonical_json(event.to_wire())
        processing_event.collect_events(*reactions, ledger_entry=canonical)

    def _reactions(self, event: IntegrationEvent) -> list[Rectification]:
        if event.type != "case_rated" or event.data.get("score", 5) > BAD_REVIEW_MAX_SCORE:
            return []
        if self._get_or_none(rectification_id(event.data["case_id"])) is not None:
            return []
        return [self._open_rectification(event)]

    def _open_rectification(self, event: IntegrationEvent) -> Rectification:
        data = event.data
        rated_at = datetime.fromisoformat(str(data.get("at") or event.occurred_at.isoformat()))
        days = int(os.environ.get(RECTIFICATION_DAYS_VARIABLE) or 5)
        return Rectification(
            case_id=data["case_id"],
            item_id=data.get("item_id", ""),
            item_name=data.get("item_name", ""),
            department=data.get("lead_department") or data.get("department", ""),
            applicant=data.get("applicant") or event.actor or "",
            score=int(data["score"]),
            comment=data.get("comment", ""),
            rated_at=rated_at.isoformat(),
            deadline=working_deadline(rated_at, days).isoformat(),
        )

    def entries(self) -> int:
        with self._connection() as conn:
            return ledger.count_entries(conn, self.schema)

    # -- replay --------------------------------------------------------------------------

    def case_history(self, case_id: str, as_of: str | None = None) -> dict[str, Any]:
        cutoff = parse_moment(as_of) if as_of else datetime.now(UTC)
        with self._connection() as conn:
            rows = ledger.case_entries(conn, self.schema, case_id)
        if not rows:
            raise NotFoundError(f"账本中没有办件 {case_id} 的记录")
        entries = [timeline_entry(*row) for row in rows]
        shown = sorted(
            (entry for entry in entries if parse_moment(entry["at"]) <= cutoff), key=timeline_order
        )
        intact = [entry.pop("_intact") for entry in shown]
        return {
            "case_id": case_id,
            "as_of": cutoff.isoformat(),
            "events": shown,
            "state": rebuild_case(shown),
            "intact": all(intact),
        }

    # -- supervision ---------------------------------------------------------------------

    def catch_up(self, rebuild: bool = False) -> int:
        with self._transaction() as curs:
            return supervision.catch_up(curs, self.schema, rebuild=rebuild)

    def departments(self, from_: str | None, to: str | None) -> dict[str, Any]:
        cases = self._cases(from_, to)
        open_counts = self._open_rectifications(cases)
        return {"departments": supervision.department_figures(cases, open_counts)}

    def measures(self, from_: str | None, to: str | None) -> dict[str, Any]:
        cases = self._cases(from_, to)
        with self._transaction() as curs:
            items = supervision.all_items(curs, self.schema)
        open_total = sum(self._open_rectifications(cases).values())
        return supervision.school_measures(cases, items, open_total)

    def trend(self, periods: list[tuple[str, str]]) -> dict[str, Any]:
        """The school's measures for each of several periods (the dashboard's weekly chart),
        from one catch-up and one query over their whole span."""
        bounds = [_period_bounds(start, end) for start, end in periods]
        if not bounds:
            return {"periods": []}
        self.catch_up()
        with self._transaction() as curs:
            items = supervision.all_items(curs, self.schema)
            cases = supervision.cases_submitted(
                curs, self.schema, min(b[0] for b in bounds), max(b[1] for b in bounds)
            )
        submitted = [(parse_moment(facts["submitted_at"]), facts) for facts in cases]
        figures = []
        for (start, end), (raw_start, raw_end) in zip(bounds, periods, strict=True):
            chosen = [facts for moment, facts in submitted if start <= moment < end]
            open_total = sum(self._open_rectifications(chosen).values())
            measures = supervision.school_measures(chosen, items, open_total)
            figures.append({"from": raw_start, "to": raw_end, **measures})
        return {"periods": figures}

    def report(self, from_: str | None, to: str | None) -> bytes:
        cases = self._cases(from_, to)
        departments = supervision.department_figures(cases, self._open_rectifications(cases))
        measures = self.measures(from_, to)
        exceptions = [facts for facts in cases if facts["trips"] > 1]
        return report_workbook(from_, to, departments, measures, exceptions)

    def _cases(self, from_: str | None, to: str | None) -> list[dict[str, Any]]:
        start, end = parse_period(from_, to)
        self.catch_up()
        with self._transaction() as curs:
            return supervision.cases_submitted(curs, self.schema, start, end)

    def _open_rectifications(self, cases: list[dict[str, Any]]) -> Counter[str]:
        counts: Counter[str] = Counter()
        for facts in cases:
            if facts["score"] is not None and facts["score"] <= BAD_REVIEW_MAX_SCORE:
                rectification = self._get_or_none(rectification_id(facts["case_id"]))
                if rectification is not None and rectification.status in OPEN_RECTIFICATION:
                    counts[rectification.department] += 1
        return counts

    # -- 好差评 ---------------------------------------------------------------------------

    def ratings(self, department: str | None = None, now: datetime | None = None) -> dict[str, Any]:
        moment = now or datetime.now(UTC)
        views = [
            r.view(moment)
            for r in self._rectifications()
            if not department or r.department == department
        ]
        return {"ratings": sorted(views, key=lambda view: view["rated_at"], reverse=True)}

    def rectify(
        self,
        rating_id: str,
        action: str,
        actor: str,
        actor_department: str,
        text: str = "",
        now: datetime | None = None,
    ) -> dict[str, Any]:
        if action not in RECTIFY_ACTIONS:
            raise InvalidError(f"未知的整改操作：{action}")
        if action in ("complete", "request_invalid") and not text.strip():
            raise InvalidError("请填写整改答复或申请理由")
        at = (now or datetime.now(UTC)).isoformat()

        def command() -> dict[str, Any]:
            rectification = self._rectification(rating_id)
            _act(rectification, action, actor, actor_department, text.strip(), at)
            self.save(rectification)
            return rectification.view(parse_moment(at))

        return retry_on_conflict(command)

    def flag_overdue_rectifications(self, now: datetime | None = None) -> int:
        moment = now or datetime.now(UTC)
        flagged = [r for r in self._rectifications() if r.flag_overdue(moment)]
        if flagged:
            self.save(*flagged)
        return len(flagged)

    def _rectification(self, rating_id: str) -> Rectification:
        rectification = self._get_or_none(rectification_id(rating_id))
        if rectification is None:
            raise NotFoundError(f"没有该差评：{rating_id}")
        return rectification  # type: ignore[no-any-return]

    def _rectifications(self) -> list[Rectification]:
        self.catch_up()
        with self._transaction() as curs:
            case_ids = supervision.badly_rated_case_ids(curs, self.schema)
        found = (self._get_or_none(rectification_id(case_id)) for case_id in case_ids)
        return [rectification for rectification in found if rectification is not None]

    # -- experience checks -----------------------------------------------------------------

    def record_check(
        self,
        actor: str,
        item_id: str,
        checker: str,
        trips: int,
        minutes: int,
        findings: str,
        now: datetime | None = None,
    ) -> dict[str, Any]:
        item = self._item(item_id)
        at = (now or datetime.now(UTC)).isoformat()
        check_id = str(uuid.uuid4())

        def command() -> dict[str, Any]:
            checks = self._get_or_none(item_checks_id(item_id)) or ItemChecks(item_id)
            checks.record(check_id, checker, trips, minutes, findings, actor, at)
            self.save(checks)
            return {
                **checks.checks[-1],
                "trips_promised": item.get("trips"),
                "item_name": item.get("name"),
            }

        return retry_on_conflict(command)

    def checks(self, item_id: str | None = None) -> dict[str, Any]:
        self.catch_up()
        with self._transaction() as curs:
            items = supervision.all_items(curs, self.schema)
        return {
            "items": [
                _item_checks(item, self._get_or_none(item_checks_id(item["item_id"])))
                for item in items
                if item.get("item_id") and (item_id is None or item["item_id"] == item_id)
            ]
        }

    def _item(self, item_id: str) -> dict[str, Any]:
        self.catch_up()
        with self._transaction() as curs:
            items = {item.get("item_id"): item for item in supervision.all_items(curs, self.schema)}
        if item_id not in items:
            raise NotFoundError(f"事项不存在：{item_id}")
        return items[item_id]

    # -- publication and plumbing ------------------------------------------------------------

    def publication(self, domain_event: DomainEventProtocol[Any]) -> Publication | None:
        describe = PUBLICATIONS.get(type(domain_event).__qualname__)
        if describe is None:
            return None
        wire_type, actor_field = describe
        data = {
            key: value
            for key, value in domain_event.__dict__.items()
            if not key.startswith("originator") and key != CORRELATION_ATTRIBUTE
        }
        data.pop("timestamp", None)
        data["aggregate"] = str(domain_event.originator_id)
        return Publication(
            wire_type, json.loads(json.dumps(data, default=str)), data.get(actor_field)
        )

    def _get_or_none(self, aggregate_id: uuid.UUID) -> Any:
        try:
            return self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None

    @contextmanager
    def _connection(self) -> Iterator[Connection[Any]]:
        with self.recorder.datastore.get_connection() as conn:  # type: ignore[attr-defined]
            yield conn

    @contextmanager
    def _transaction(self) -> Iterator[Cursor[Any]]:
        with self.recorder.datastore.transaction(commit=True) as curs:  # type: ignore[attr-defined]
            yield curs

    def _create_read_models(self) -> None:
        with self._transaction() as curs:
            curs.execute("SELECT pg_advisory_xact_lock(%s)", (supervision.PROJECTION_LOCK,))
            for statement in supervision.create_statements(self.schema):
                curs.execute(statement)
            self._create_completeness_tables(curs)


PUBLICATIONS: dict[str, tuple[str, str]] = {
    "Rectification.Opened": ("rectification_opened", "applicant"),
    "Rectification.Started": ("rectification_started", "actor"),
    "Rectification.Completed": ("rectification_completed", "actor"),
    "Rectification.InvalidRequested": ("rectification_invalid_requested", "actor"),
    "Rectification.Ruled": ("rectification_ruled", "actor"),
    "Rectification.FlaggedOverdue": ("rectification_overdue", "actor"),
    "ItemChecks.CheckRecorded": ("experience_check_recorded", "actor"),
}


def _act(
    rectification: Rectification, action: str, actor: str, department: str, text: str, at: str
) -> None:
    if action == "start":
        rectification.start(actor, department, at)
    elif action == "complete":
        rectification.complete(text, actor, department, at)
    elif action == "request_invalid":
        rectification.request_invalid(text, actor, department, at)
    else:
        rectification.rule(action == "rule_invalid", text, actor, at)


def _item_checks(item: dict[str, Any], checks: ItemChecks | None) -> dict[str, Any]:
    return {
        "item_id": item["item_id"],
        "name": item.get("name"),
        "department": item.get("department"),
        "trips_promised": item.get("trips"),
        "checks": list(checks.checks) if checks is not None else [],
    }


def parse_period(start: str | None, end: str | None) -> tuple[datetime | None, datetime | None]:
    """A [start, end) period whose sides may be open (None)."""
    return _ordered(parse_moment(start) if start else None, parse_moment(end) if end else None)


def _period_bounds(start: str, end: str) -> tuple[datetime, datetime]:
    """A [start, end) period with both sides given."""
    return _ordered(parse_moment(start), parse_moment(end))


def _ordered(begin: T, finish: T) -> tuple[T, T]:
    if begin and finish and finish <= begin:
        raise InvalidError("统计区间的结束时间必须晚于开始时间")
    return begin, finish
