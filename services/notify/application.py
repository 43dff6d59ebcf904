"""The notify application: notifications are event-sourced and encrypted at rest.

``accept`` records an upstream event's notifications in one transaction with its
tracking record, so a redelivered event queues nothing twice. Inbox notifications are
delivered by being stored; SMS and e-mail wait for the dispatcher (``delivery.py``).
"""
from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from eventsourcing.application import ProcessingEvent

from services.notify.audience import Delivery
from services.notify.domain import SYSTEM, Notification
from shared.cipher import cipher_env
from shared.contracts import IntegrationEvent
from shared.errors import NotFoundError
from shared.eventstore import ConsumingApplication, Publication, retry_on_conflict
from shared.logs import mask

log = logging.getLogger(__name__)

def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Planned:
    event: IntegrationEvent
    deliveries: list[Delivery]
    at: datetime


class NotifyApplication(ConsumingApplication):
    name = "notify"
    service = "notify"

    def __init__(self, env: dict[str, str] | None = None) -> None:
        super().__init__({**cipher_env(), **(env or {})})

    # -- commands ------------------------------------------------------------------------

    def accept(self, event: IntegrationEvent, deliveries: list[Delivery], at: datetime) -> bool:
        """Queue an event's notifications once. False when the event had been accepted."""
        return self.consume(event, Planned(event, deliveries, at))

    def policy(self, domain_event: Any, processing_event: ProcessingEvent[Any]) -> None:
        assert isinstance(domain_event, Planned)
        for delivery in domain_event.deliveries:
            processing_event.collect_events(self._queued(domain_event, delivery))

    def _queued(self, planned: Planned, delivery: Delivery) -> Notification:
        notification = Notification(
            source_event_id=str(planned.event.event_id),
            event_type=planned.event.type,
            recipient=delivery.recipient,
            channel=delivery.channel,
            address=delivery.address,
            subject=delivery.subject,
            text=delivery.text,
            case_id=delivery.case_id,
            final=delivery.final,
            queued_at=planned.at,
            actor=SYSTEM,
        )
        if delivery.channel == "inbox":
            notification.sent(at=planned.at, provider_id="inbox", attempts=1, actor=SYSTEM)
        return notification

    def record_sent(self, notification_id: uuid.UUID, provider_id: str, at: datetime) -> None:
        def command() -> None:
            notification = self.notification(notification_id)
            if notification.is_open:
                notification.sent(at=at, provider_id=provider_id, attempts=1, actor=SYSTEM)
                self.save(notification)

        retry_on_conflict(command)

    def record_attempt_failed(
        self, notification_id: uuid.UUID, reason: str, at: datetime, retry_at: datetime
    ) -> None:
        def command() -> None:
            notification = self.notification(notification_id)
            if notification.is_open:
                notification.attempt_failed(at=at, reason=reason, retry_at=retry_at, actor=SYSTEM)
                self.save(notification)

        retry_on_conflict(command)

    def record_failed(
        self, notification_id: uuid.UUID, reason: str, at: datetime, attempts: int
    ) -> None:
        def command() -> None:
            notification = self.notification(notification_id)
            if notification.is_open:
                notification.failed(at=at, reason=reason, attempts=attempts, actor=SYSTEM)
                self.save(notification)

        retry_on_conflict(command)

    # -- queries -------------------------------------------------------------------------

    def notification(self, notification_id: uuid.UUID) -> Notification:
        try:
            found: Notification = self.repository.get(notification_id)
        except Exception as exc:  # AggregateNotFoundError
            raise NotFoundError(f"没有这条通知: {notification_id}") from exc
        return found

    def views(self, notification_ids: list[uuid.UUID]) -> list[dict[str, Any]]:
        return [view(self.notification(found)) for found in notification_ids]

    # -- integration events --------------------------------------------------------------

    def publication(self, domain_event: Any) -> Publication | None:
        if not isinstance(domain_event, Notification.Failed):
            return None
        notification: Notification = self.repository.get(
            domain_event.originator_id, version=domain_event.originator_version
        )
        data = {key: value for key, value in view(notification).items() if key not in ("to", "text")}
        data.update(recipient=notification.recipient, event_type=notification.event_type)
        return Publication("notification_failed", data, SYSTEM)


STATUS_VIEW = {"queued": "pending", "sent": "sent", "failed": "failed"}


def view(notification: Notification) -> dict[str, Any]:
    return {
        "notification_id": str(notification.id),
        "channel": notification.channel,
        "to": mask(notification.address),
        "subject": notification.subject,
        "text": notification.text,
        "status": STATUS_VIEW[notification.status],
        "case_id": notification.case_id,
        "created_at": notification.queued_at.isoformat(),
        "attempts": notification.attempts,
        "reason": notification.reason,
    }
