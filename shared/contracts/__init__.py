from __future__ import annotations

from pydantic import BaseModel

from shared.contracts.case_events import CASE_EVENTS
from shared.contracts.catalogue import ITEM_EVENT_DATA
from shared.contracts.envelope import SCHEMA_VERSION, IntegrationEvent, event_id_for
from shared.contracts.notify import NOTIFY_EVENT_DATA
from shared.contracts.supervision import SUPERVISION_EVENT_DATA

EVENT_DATA: dict[str, dict[str, type[BaseModel]]] = {
    "approval": dict(CASE_EVENTS),
    "catalogue": dict(ITEM_EVENT_DATA),
    "notify": dict(NOTIFY_EVENT_DATA),
    "audit": dict(SUPERVISION_EVENT_DATA),
}
"""The data model of each published event type, by publishing service (every event a service publishes; ``shared.asyncapi`` publishes them as a document)."""

__all__ = ["EVENT_DATA", "SCHEMA_VERSION", "IntegrationEvent", "event_id_for"]
