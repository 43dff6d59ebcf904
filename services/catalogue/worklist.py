"""The work list: every item's latest working status, for the review queue and editors' drafts.

The search read model holds published versions only; people who review, publish or edit
need the items still on their way. This read model folds the catalogue's own notification
log (every ``ServiceItem`` event) into one small row per item: name, department, status and
the version the working copy will become. It lives in memory, one per application
instance, because the catalogue is small (a few hundred items, a few events each) and the
fold is cheap: each query first reads the notifications after its position (usually none,
one indexed select), so a caller reads its own writes and every instance, reading the same
ordered log, converges on the same rows. A restarted instance rebuilds it from the log on
its first query. Nothing is stored beside the event store, so nothing can drift from it.

Each event names its item and department (see ``ServiceItem.Event``), and the status after
an event follows from its type alone, so the fold needs no aggregate loads.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from eventsourcing.application import Application
from eventsourcing.utils import get_topic

from services.catalogue.domain import ServiceItem

EVENTS = (
    ServiceItem.Drafted,
    ServiceItem.Revised,
    ServiceItem.Submitted,
    ServiceItem.Reviewed,
    ServiceItem.Returned,
    ServiceItem.Published,
    ServiceItem.Retired,
)
TOPICS = tuple(get_topic(cls) for cls in EVENTS)
BATCH = 500

STATUS_AFTER: dict[type, str] = {
    ServiceItem.Drafted: "draft",
    ServiceItem.Revised: "draft",
    ServiceItem.Submitted: "submitted",
    ServiceItem.Reviewed: "reviewed",
    ServiceItem.Returned: "returned",
    ServiceItem.Published: "published",
}


@dataclass
class WorkingItem:
    item_id: str
    department: str
    content: dict[str, Any]
    status: str = "draft"
    published_versions: int = 0

    @property
    def version(self) -> int:
        pending = self.status not in ("published", "retired")
        return self.published_versions + 1 if pending else self.published_versions

    def apply(self, domain_event: Any) -> None:
        content = getattr(domain_event, "content", None)
        if content is not None:
            self.content = content
        if isinstance(domain_event, ServiceItem.Published):
            self.published_versions = max(self.published_versions, domain_event.version)
        if isinstance(domain_event, ServiceItem.Retired):
            if self.status == "published":
                self.status = "retired"
            return
        self.status = STATUS_AFTER[type(domain_event)]

    def summary(self) -> dict[str, Any]:
        return {
            "item_id": self.item_id,
            "name": self.content["name"],
            "department": self.department,
            "trips": self.content["trips"],
            "mode": self.content["target"]["mode"],
            "version": self.version,
            "status": self.status,
        }


@dataclass
class WorkList:
    app: Application[Any]
    items: dict[str, WorkingItem] = field(default_factory=dict)
    position: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def catch_up(self) -> int:
        with self.lock:
            while True:
                notifications = self.app.recorder.select_notifications(
                    start=self.position, limit=BATCH, topics=TOPICS, inclusive_of_start=False
                )
                if not notifications:
                    return self.position
                for notification in notifications:
                    self._apply(self.app.mapper.to_domain_event(notification))
                self.position = notifications[-1].id

    def _apply(self, domain_event: Any) -> None:
        item = self.items.get(domain_event.item_id)
        if item is None:
            item = WorkingItem(domain_event.item_id, domain_event.department, {})
            self.items[domain_event.item_id] = item
        item.apply(domain_event)

    def working_items(self) -> list[dict[str, Any]]:
        self.catch_up()
        rows = [item.summary() for item in self.items.values() if item.content]
        return sorted(rows, key=lambda row: (row["department"], row["name"], row["item_id"]))
