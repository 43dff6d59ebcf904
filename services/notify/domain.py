"""A notification: one message to one recipient on one channel, queued → sent | failed.

Its id is derived from (source event, recipient, channel), so the same event can never
queue a second one, and the id doubles as the idempotency key handed to the provider.
"""
from __future__ import annotations

import uuid
from datetime import datetime

from eventsourcing.domain import Aggregate, event

NAMESPACE = uuid.UUID("0b6f3c2e-4c1d-4f59-9a57-2f2f8d6f0c01")
SYSTEM = "notify"
CHANNELS = ("sms", "email", "inbox")


def notification_id_for(source_event_id: str, recipient: str, channel: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"{source_event_id}:{recipient}:{channel}")


class Notification(Aggregate):
    @staticmethod
    def create_id(source_event_id: str, recipient: str, channel: str) -> uuid.UUID:
        return notification_id_for(source_event_id, recipient, channel)

    @event("Queued")
    def __init__(
        self,
        *,
        source_event_id: str,
        event_type: str,
        recipient: str,
        channel: str,
        address: str,
        subject: str,
        text: str,
        case_id: str | None,
        final: bool,
        queued_at: datetime,
        actor: str,
    ) -> None:
        self.source_event_id = source_event_id
        self.event_type = event_type
        self.recipient = recipient
        self.channel = channel
        self.address = address
        self.subject = subject
        self.text = text
        self.case_id = case_id
        self.final = final
        self.queued_at = queued_at
        self.status = "queued"
        self.attempts = 0
        self.reason: str | None = None
        self.provider_id: str | None = None
        self.finished_at: datetime | None = None

    @property
    def idempotency_key(self) -> str:
        return str(self.id)

    @property
    def is_open(self) -> bool:
        return self.status == "queued"

    @event("AttemptFailed")
    def attempt_failed(self, *, at: datetime, reason: str, retry_at: datetime, actor: str) -> None:
        self.attempts += 1
        self.reason = reason

    @event("Sent")
    def sent(self, *, at: datetime, provider_id: str, attempts: int, actor: str) -> None:
        self.attempts += attempts
        self.status = "sent"
        self.provider_id = provider_id
        self.finished_at = at

    @event("Failed")
    def failed(self, *, at: datetime, reason: str, attempts: int, actor: str) -> None:
        self.attempts += attempts
        self.status = "failed"
        self.reason = reason
        self.finished_at = at
