"""How case events are stored: each holds its contract event as the data it publishes.

Before the aggregate recorded the contract's events themselves, ``services.approval.domain:Case``
stored one nested event class per event (``Case.Submitted``, ``Case.NodeOpened``, ...) holding
the published ``data`` as a dict.
Each old topic is registered to a subclass of today's event that upcasts that dict to its
typed contract event, so old stores load, replay and publish exactly as before.
"""
from __future__ import annotations

from typing import Any

from eventsourcing.persistence import JSONTranscoder, Transcoding
from eventsourcing.utils import register_topic

from services.approval.case import Case
from shared.contracts.case_events import CASE_EVENTS, CaseEvent, case_event

OLD_MODULE = "services.approval.domain"
OLD_EVENTS = {
    "IntakeRejected": "case_intake_rejected",
    "NodeOpened": "node_opened",
    "NodeDecided": "node_decided",
    "NodeCancelled": "node_cancelled",
    "NodeOverdue": "node_overdue",
    "Returned": "case_returned",
    "Resubmitted": "case_resubmitted",
    "Approved": "case_approved",
    "Rejected": "case_rejected",
    "Withdrawn": "case_withdrawn",
    "Urged": "case_urged",
    "TripRecorded": "trip_recorded",
    "Rated": "case_rated",
}


class CaseEventAsData(Transcoding):
    def __init__(self, event_class: type[CaseEvent]) -> None:
        self.type = event_class
        self.name = event_class.event_type

    def encode(self, obj: CaseEvent) -> dict[str, Any]:
        return obj.model_dump(mode="json")

    def decode(self, data: dict[str, Any]) -> CaseEvent:
        return self.type.model_validate(data)


def register_case_events(transcoder: JSONTranscoder) -> None:
    for event_class in CASE_EVENTS.values():
        transcoder.register(CaseEventAsData(event_class))


def _upcasting(base: type[Any], event_type: str) -> type[Any]:
    class Upcast(base):  # type: ignore[misc, valid-type]
        class_version = 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["event"] = case_event(event_type, state.pop("data"))

    Upcast.__qualname__ = f"Case.{event_type}.v1"
    return Upcast


def register_legacy_topics() -> None:
    register_topic(f"{OLD_MODULE}:Case", Case)
    register_topic(f"{OLD_MODULE}:Case.Submitted", SUBMITTED)
    for name, upcast in UPCASTS.items():
        register_topic(f"{OLD_MODULE}:Case.{name}", upcast)


SUBMITTED = _upcasting(Case.Started, "case_submitted")
UPCASTS = {name: _upcasting(Case.Recorded, event_type) for name, event_type in OLD_EVENTS.items()}


def recorded_case_event(domain_event: object) -> tuple[CaseEvent, str] | None:
    """The integration event a stored case event records, and who caused it."""
    if isinstance(domain_event, (Case.Started, Case.Recorded)):
        return domain_event.event, domain_event.actor
    return None
