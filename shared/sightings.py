"""Watching the dead-letter exchange without touching the operators' queue.

Every dead letter is published on the topic exchange ``onetrip.dead-letter``; the operators'
queue ``onetrip.dead-letter`` holds them until ``python -m shared.deadletters replay``. A
watcher binds a queue of its own beside it and so sees each dead letter once, whichever
consumer gave up on it, and each replay notice that ``replay`` publishes on
``onetrip.dead-letter.replayed`` before it sends a dead letter back. The audit service
keeps what it sees, so the supervisor's pages can say what waits and why.

A watcher never dead-letters anything itself: a sighting it cannot record yet goes back to
its queue and is tried again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import eventlet
from kombu.message import Message
from nameko.messaging import Consumer

from shared.messaging import (
    ERROR_HEADER,
    ID_HEADER,
    MAX_MESSAGE_BYTES,
    QUEUE_HEADER,
    REASON_HEADER,
    REPLAYED_EXCHANGE,
    TolerantQueueConsumer,
    watch_queue,
)

log = logging.getLogger(__name__)

TEXT_MAX = 1_000


def dead_letter_id(headers: dict[str, Any], body: bytes) -> str:
    """The id the dead-lettering consumer gave it; for one dead-lettered before ids existed,
    a digest of where it came from and what it holds."""
    given = headers.get(ID_HEADER)
    if given:
        return printable(given)[:64]
    origin = str(headers.get(QUEUE_HEADER, "")).encode("utf-8", "replace")
    return hashlib.sha256(origin + b"\n" + body).hexdigest()[:32]


def printable(value: Any, limit: int = TEXT_MAX) -> str:
    """Text PostgreSQL can hold: no NUL, no lone surrogate; what cannot be kept is escaped."""
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    text = text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")
    return text[:limit]


@dataclass(frozen=True)
class Sighting:
    """A dead letter seen (``replayed`` False) or its replay notice (``replayed`` True)."""

    dead_letter_id: str
    replayed: bool
    at: str
    queue: str | None = None
    reason: str | None = None
    service: str | None = None
    notification_id: int | None = None
    event_id: str | None = None
    type: str | None = None


def sighting_of(message: Message) -> Sighting:
    headers = dict(message.headers or {})
    body = message.body or b""
    body = body.encode("utf-8", "surrogateescape") if isinstance(body, str) else bytes(body)
    now = datetime.now(UTC).isoformat()
    if message.delivery_info.get("exchange") == REPLAYED_EXCHANGE.name:
        return Sighting(dead_letter_id(headers, b""), True, now)
    reason = printable(headers.get(REASON_HEADER) or "（没有写明原因）")
    if headers.get(ERROR_HEADER):
        reason = printable(f"{reason}; {headers[ERROR_HEADER]}")
    queue = printable(headers.get(QUEUE_HEADER) or "", 200) or None
    return Sighting(dead_letter_id(headers, body), False, now, queue, reason, **_what(body))


def _what(body: bytes) -> dict[str, Any]:
    """Which event it was, as far as the body says (it may be anything at all)."""
    try:
        event = json.loads(body) if len(body) <= MAX_MESSAGE_BYTES else None
    except (ValueError, RecursionError):
        return {}
    if not isinstance(event, dict):
        return {}
    notification_id = event.get("notification_id")
    return {
        "service": printable(event["service"], 50) if event.get("service") else None,
        "notification_id": notification_id
        if isinstance(notification_id, int) and 0 < notification_id < 2**63
        else None,
        "event_id": printable(event["event_id"], 64) if event.get("event_id") else None,
        "type": printable(event["type"], 100) if event.get("type") else None,
    }


def replay_notice(headers: dict[str, Any], body: bytes) -> dict[str, Any]:
    """What ``replay`` publishes on ``onetrip.dead-letter.replayed`` for one dead letter."""
    return {ID_HEADER: dead_letter_id(headers, body), QUEUE_HEADER: headers.get(QUEUE_HEADER)}


class DeadLetterWatch(Consumer):
    """``@dead_letter_watch()``: the method receives a ``Sighting`` for each dead letter and
    each replay notice, whatever the body holds."""

    queue_consumer = TolerantQueueConsumer()

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(queue=None, **kwargs)

    def setup(self) -> None:
        self.queue = watch_queue(self.container.service_name)
        super().setup()

    def reject(self, message: Message, reason: str) -> None:
        # The body did not decode (TolerantQueueConsumer): a dead letter all the same.
        self.handle_message(None, message)

    def handle_message(self, body: Any, message: Message) -> None:
        try:
            sighting = sighting_of(message)
        except Exception:  # whatever a dead letter holds, it must not stop the watch
            log.exception("a dead letter could not be read; it is kept as unreadable")
            sighting = Sighting(
                uuid.uuid4().hex, False, datetime.now(UTC).isoformat(), reason="（无法读取的死信）"
            )
        super().handle_message(sighting, message)

    def handle_message_processed(
        self, message: Message, result: Any = None, exc_info: Any = None
    ) -> None:
        if exc_info is None:
            self.queue_consumer.ack_message(message)
            return
        deliveries = int((message.headers or {}).get("x-delivery-count", 0) or 0)
        log.warning("could not record a dead letter (delivery %d): %s", deliveries, exc_info[1])
        eventlet.sleep(min(0.5 * 2**deliveries, 30.0))
        self.queue_consumer.requeue_message(message)


dead_letter_watch = DeadLetterWatch.decorator
