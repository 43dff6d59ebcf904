"""好差评 and 实际体验检查: rectifications of bad reviews and experience checks of service items.

An application of its own (the ``ratings`` stream in the audit schema) that follows the ledger
the way the eventsourcing library's ``System`` joins a follower to its leader: it pulls the
``case_rated`` entries after the last one it tracked, and a bad review opens a rectification
in the same transaction as the tracking record, so each review opens one at most.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, NamedTuple

from eventsourcing.application import AggregateNotFoundError, ProcessingEvent
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import IntegrityError, Notification, Tracking
from eventsourcing.system import Follower
from eventsourcing.utils import get_topic

from services.audit.adoption import adopt_former_stream
from services.audit.domain import (
    OPEN_RECTIFICATION,
    ItemChecks,
    Rectification,
    item_checks_id,
    rectification_id,
)
from services.audit.ledgerlog import integration_event
from services.audit.replay import parse_moment
from shared.config import Settings
from shared.contracts import IntegrationEvent
from shared.contracts.case_events import is_bad_review
from shared.errors import InvalidError, NotFoundError
from shared.eventstore import CONSUME_ATTEMPTS, OnetripApplication, Publication, retry_on_conflict
from shared.followers import Tables
from shared.workdays import WorkingCalendar

OPENED_TOPIC = get_topic(Rectification.Opened)
STORED_EVENT_FIELDS = frozenset({"originator_id", "originator_version", "originator_topic", "timestamp"})
Facts = dict[str, Any]


class Act(NamedTuple):
    actor: str
    department: str
    text: str
    at: str


RECTIFY: dict[str, Callable[[Rectification, Act], None]] = {
    "start": lambda r, act: r.start(act.actor, act.department, act.at),
    "complete": lambda r, act: r.complete(act.text, act.actor, act.department, act.at),
    "request_invalid": lambda r, act: r.request_invalid(act.text, act.actor, act.department, act.at),
    "rule_invalid": lambda r, act: r.rule(True, act.text, act.actor, act.at),
    "rule_valid": lambda r, act: r.rule(False, act.text, act.actor, act.at),
}
NEEDS_TEXT = frozenset({"complete", "request_invalid"})


class Check(NamedTuple):
    """An experience check as ``ItemChecks.record`` takes it (after the check's id)."""

    checker: str
    trips: int
    minutes: int
    findings: str
    actor: str
    at: str


class Published(NamedTuple):
    type: str
    actor_field: str


PUBLISHED: dict[type[Any], Published] = {
    Rectification.Opened: Published("rectification_opened", "applicant"),
    Rectification.Started: Published("rectification_started", "actor"),
    Rectification.Completed: Published("rectification_completed", "actor"),
    Rectification.InvalidRequested: Published("rectification_invalid_requested", "actor"),
    Rectification.Ruled: Published("rectification_ruled", "actor"),
    Rectification.FlaggedOverdue: Published("rectification_overdue", "actor"),
    ItemChecks.CheckRecorded: Published("experience_check_recorded", "actor"),
}


class Rectifications(Follower[Any], OnetripApplication):
    name = "ratings"
    service = "audit"
    topics = ("case_rated",)

    def __init__(self, env: dict[str, str] | None = None, settings: Settings | None = None) -> None:
        super().__init__(env)
        adopt_former_stream(Tables.of(self), f"{self.name}_events", self.name)
        settings = settings or Settings()
        self.calendar = WorkingCalendar.configured(settings.holidays_file)
        self.rectification_days = settings.audit.rectification_days

    # -- following the ledger ----------------------------------------------------------------

    def catch_up(self) -> None:
        for leader_name in self.readers:
            self.pull_and_process(leader_name)

    def pull_and_process(
        self, leader_name: str, start: int | None = None, stop: int | None = None
    ) -> None:
        for _ in range(CONSUME_ATTEMPTS):
            try:
                super().pull_and_process(leader_name, start, stop)
                return
            except IntegrityError:
                continue  # another instance processed the entry first: pull again after it

    def convert_notifications(
        self, leader_name: str, notifications: Iterable[Notification]
    ) -> list[tuple[DomainEventProtocol[Any], Tracking]]:
        return [
            (integration_event(notification), Tracking(leader_name, notification.id))  # type: ignore[misc]
            for notification in notifications
        ]

    def policy(self, domain_event: Any, processing_event: ProcessingEvent[Any]) -> None:
        event: IntegrationEvent = domain_event
        if event.type != "case_rated" or not is_bad_review(event.data.get("score", 5)):
            return
        if self._get_or_none(rectification_id(event.data["case_id"])) is None:
            processing_event.collect_events(self._opened(event))

    def _opened(self, event: IntegrationEvent) -> Rectification:
        data = event.data
        rated_at = datetime.fromisoformat(str(data.get("at") or event.occurred_at.isoformat()))
        return Rectification(
            case_id=data["case_id"],
            item_id=data.get("item_id", ""),
            item_name=data.get("item_name", ""),
            department=data.get("lead_department") or data.get("department", ""),
            applicant=data.get("applicant") or event.actor or "",
            score=int(data["score"]),
            comment=data.get("comment", ""),
            rated_at=rated_at.isoformat(),
            deadline=self.calendar.due_at(rated_at, self.rectification_days).isoformat(),
        )

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
        if action not in RECTIFY:
            raise InvalidError(f"未知的整改操作：{action}")
        if action in NEEDS_TEXT and not text.strip():
            raise InvalidError("请填写整改答复或申请理由")
        act = Act(actor, actor_department, text.strip(), (now or datetime.now(UTC)).isoformat())
        self.catch_up()

        def command() -> dict[str, Any]:
            rectification = self._rectification(rating_id)
            RECTIFY[action](rectification, act)
            self.save(rectification)
            return rectification.view(parse_moment(act.at))

        return retry_on_conflict(command)

    def flag_overdue_rectifications(self, now: datetime | None = None) -> int:
        moment = now or datetime.now(UTC)
        flagged = [r for r in self._rectifications() if r.flag_overdue(moment)]
        if flagged:
            self.save(*flagged)
        return len(flagged)

    def open_by_department(self, case_ids: Iterable[str]) -> Counter[str]:
        self.catch_up()
        found = (self._get_or_none(rectification_id(case_id)) for case_id in case_ids)
        return Counter(
            r.department for r in found if r is not None and r.status in OPEN_RECTIFICATION
        )

    def _rectification(self, rating_id: str) -> Rectification:
        rectification = self._get_or_none(rectification_id(rating_id))
        if rectification is None:
            raise NotFoundError(f"没有该差评：{rating_id}")
        return rectification  # type: ignore[no-any-return]

    def _rectifications(self) -> list[Rectification]:
        self.catch_up()
        opened: list[Rectification] = []
        after = 0
        while notifications := self.recorder.select_notifications(
            start=after, limit=500, topics=[OPENED_TOPIC], inclusive_of_start=False
        ):
            opened.extend(self.repository.get(n.originator_id) for n in notifications)
            after = notifications[-1].id
        return opened

    # -- experience checks -----------------------------------------------------------------

    def record_check(self, item: Facts, check: Check) -> dict[str, Any]:
        check_id = str(uuid.uuid4())

        def command() -> dict[str, Any]:
            checks = self._get_or_none(item_checks_id(item["item_id"])) or ItemChecks(item["item_id"])
            checks.record(check_id, *check)
            self.save(checks)
            return {
                **checks.checks[-1],
                "trips_promised": item.get("trips"),
                "item_name": item.get("name"),
            }

        return retry_on_conflict(command)

    def checks(self, items: Iterable[Facts]) -> dict[str, Any]:
        return {"items": [self._item_checks(item) for item in items]}

    def _item_checks(self, item: Facts) -> dict[str, Any]:
        checks = self._get_or_none(item_checks_id(item["item_id"]))
        return {
            "item_id": item["item_id"],
            "name": item.get("name"),
            "department": item.get("department"),
            "trips_promised": item.get("trips"),
            "checks": list(checks.checks) if checks is not None else [],
        }

    # -- publication ------------------------------------------------------------------------

    def publication(self, domain_event: DomainEventProtocol[Any]) -> Publication | None:
        published = PUBLISHED.get(type(domain_event))
        if published is None:
            return None
        data = {
            field.name: getattr(domain_event, field.name)
            for field in dataclasses.fields(domain_event)  # type: ignore[arg-type]
            if field.name not in STORED_EVENT_FIELDS
        }
        data["aggregate"] = str(domain_event.originator_id)
        wire = json.loads(json.dumps(data, default=str))
        return Publication(published.type, wire, wire.get(published.actor_field))

    def _get_or_none(self, aggregate_id: uuid.UUID) -> Any:
        try:
            return self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None
