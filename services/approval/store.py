"""What every part of the approval application stands on: its store, its calendar, its clock,
and what each stored event says on the bus."""
from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import JSONTranscoder

from services.approval.stored import (
    recorded_case_event,
    register_case_events,
    register_legacy_topics,
)
from shared.eventstore import OnetripApplication, Publication
from shared.workdays import SHANGHAI, WorkingCalendar, in_shanghai


class ApprovalStore(OnetripApplication):
    name = "approval"
    service = "approval"

    def __init__(
        self, env: Mapping[str, str] | None = None, calendar: WorkingCalendar | None = None
    ) -> None:
        register_legacy_topics()
        super().__init__(env=env)
        self.calendar = calendar or WorkingCalendar.from_env(self.env)

    # -- the outbox: what each stored event says on the bus -----------------------------

    def publication(self, domain_event: DomainEventProtocol[Any]) -> Publication | None:
        recorded = recorded_case_event(domain_event)
        if recorded is None:
            return None
        case_event, actor = recorded
        data = case_event.model_dump(mode="json")
        return Publication(case_event.event_type, data, actor, case_event.schema_version)

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        register_case_events(transcoder)


    def _get_or_none(self, aggregate_id: uuid.UUID | None) -> Any:
        if aggregate_id is None:
            return None
        try:
            return self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None

    @staticmethod
    def _now(now: datetime | None) -> datetime:
        return in_shanghai(now) if now is not None else datetime.now(SHANGHAI)
