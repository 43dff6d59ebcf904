"""Consuming integration events with bounded retries and a dead-letter queue.

nameko acks a message whose handler raised (it is lost) or, with ``requeue_on_error``,
requeues it forever. Here every handler queue is a durable quorum queue, so the broker
counts deliveries (``x-delivery-count``, crashes included); a message that fails
validation goes to the dead-letter queue at once, one that keeps failing after
``ONETRIP_DELIVERY_LIMIT`` deliveries goes there too, and the consumer carries on.

Each dead letter carries an id of its own, the queue it left and the reason (for a handler
that kept failing, its last error too), so whoever watches the dead-letter exchange can
tell an operator what waits and why (``shared.sightings``).
"""
from __future__ import annotations

import logging
import uuid
from functools import partial
from typing import Any

import eventlet
from kombu import Connection, Exchange, Queue, binding
from kombu.message import Message
from nameko.events import EventHandler
from nameko.messaging import QueueConsumer
from pydantic import ValidationError

from shared import correlation, metrics
from shared.config import settings_of
from shared.contracts import EVENT_DATA, IntegrationEvent
from shared.contracts.manifest import Manifest
from shared.inputs import UnstorableError, check_storable
from shared.topology import EVENTS, MANIFESTS, Subscription

log = logging.getLogger(__name__)

DEAD_LETTER_EXCHANGE = Exchange("onetrip.dead-letter", type="topic", durable=True)
DEAD_LETTER_QUEUE = Queue(
    "onetrip.dead-letter",
    exchange=DEAD_LETTER_EXCHANGE,
    routing_key="#",
    durable=True,
    queue_arguments={"x-queue-type": "quorum"},
)
# A dead-letter watcher's own queue beside the operators' (shared.sightings): every dead
# letter, and every notice that one was replayed. Declared by `python -m shared.bootstrap`
# and by the watcher itself (a consumer that dead-letters needs no right to it).
REPLAYED_EXCHANGE = Exchange("onetrip.dead-letter.replayed", type="topic", durable=True)
WATCHER = "audit"


def watch_queue(consumer: str = WATCHER) -> Queue:
    return Queue(
        f"dlx--{consumer}.on_dead_letter",
        bindings=[
            binding(DEAD_LETTER_EXCHANGE, routing_key="#"),
            # the operators' tool declares it (and bootstrap): the watcher only binds to it
            binding(Exchange(REPLAYED_EXCHANGE.name, type="topic", durable=True, no_declare=True),
                    routing_key="#"),
        ],
        durable=True,
        auto_delete=False,
        queue_arguments={"x-queue-type": "quorum"},
    )


MAX_MESSAGE_BYTES = 1_000_000
QUEUE_HEADER, REASON_HEADER = "x-onetrip-queue", "x-onetrip-reason"
ID_HEADER, ERROR_HEADER = "x-onetrip-dead-letter-id", "x-onetrip-error"


class PoisonMessageError(Exception):
    """A message no retry can fix: it goes straight to the dead-letter queue."""


def dead_letter(
    message: Message, queue_name: str, reason: str, amqp_uri: str, error: str | None = None
) -> None:
    headers = dict(message.headers or {})
    headers.update(
        {ID_HEADER: uuid.uuid4().hex, QUEUE_HEADER: queue_name, REASON_HEADER: reason[:1000]}
    )
    if error:
        headers[ERROR_HEADER] = error[:1000]
    with Connection(amqp_uri, transport_options={"confirm_publish": True}) as conn:
        producer = conn.Producer()
        producer.publish(
            message.body,
            exchange=DEAD_LETTER_EXCHANGE,
            routing_key=queue_name,
            content_type=message.content_type or "application/octet-stream",
            content_encoding=message.content_encoding or "binary",
            headers=headers,
            delivery_mode=2,
            declare=[DEAD_LETTER_EXCHANGE, DEAD_LETTER_QUEUE],
            retry=True,
            retry_policy={"max_retries": 5},
        )
    log.error("dead-lettered a message from %s: %s", queue_name, reason)


def parse_event(body: Any, source_service: str | None = None) -> IntegrationEvent:
    """The envelope, held to the stores' rules field by field (``data`` may nest as deep as a
    form may) and, where ``shared.contracts`` promises one, ``data`` to its type's model: an
    event that any consumer could only half apply is refused whole."""
    storable(body, "event")
    try:
        event = IntegrationEvent.model_validate(body)
    except ValidationError as exc:
        raise PoisonMessageError(f"not an integration event: {exc}") from exc
    _check_contract(event, source_service or event.service)
    return event


def _check_contract(event: IntegrationEvent, service: str) -> None:
    model = EVENT_DATA.get(service, {}).get(event.type)
    if model is None:
        return
    try:
        model.model_validate(event.data)
    except ValidationError as exc:
        raise PoisonMessageError(f"{service}.{event.type} data breaks its contract: {exc}") from exc


def storable(body: Any, what: str) -> None:
    """Each field of a message held to the stores' rules on its own (``shared.inputs``)."""
    if not isinstance(body, dict):
        raise PoisonMessageError(f"the {what} is not a JSON object")
    try:
        for name, value in body.items():
            check_storable(value, str(name)[:40])
    except UnstorableError as exc:
        raise PoisonMessageError(f"unstorable {what}: {exc}") from None


def parse_manifest(body: Any, source: str) -> Manifest:
    storable(body, "manifest")
    try:
        manifest = Manifest.model_validate(body)
    except ValidationError as exc:
        raise PoisonMessageError(f"not a manifest: {exc}") from exc
    if manifest.service != source:
        raise PoisonMessageError(f"a manifest of {manifest.service} on {source}.manifests")
    return manifest


class TolerantQueueConsumer(QueueConsumer):
    """A queue consumer that dead-letters a body it cannot decode instead of dying.

    It takes one message at a time from each queue (``ONETRIP_EVENT_PREFETCH``), so a
    service applies each upstream's events in the order they were published: a case's
    ``node_opened`` before its ``node_decided``, the ledger in publication order.
    """

    @property
    def prefetch_count(self) -> int:
        return settings_of(self.container.config).event_prefetch

    def get_consumers(self, consumer_cls: Any, channel: Any) -> Any:
        consumers = super().get_consumers(consumer_cls, channel)
        for provider, consumer in self._consumers.items():
            consumer.on_decode_error = partial(self._undecodable, provider)
        return consumers

    def _undecodable(self, provider: Any, message: Message, exc: Exception) -> None:
        provider.reject(message, f"undecodable body: {exc}")


class IntegrationEventHandler(EventHandler):
    """``@integration_event_handler("approval", "case_submitted")``; ``"*"`` takes every type.

    The decorated method receives a validated ``IntegrationEvent``.
    """

    queue_consumer = TolerantQueueConsumer()
    stream = EVENTS

    def __init__(self, source_service: str, event_type: str = "*", **kwargs: Any) -> None:
        super().__init__(source_service, event_type, requeue_on_error=True, **kwargs)

    def setup(self) -> None:
        super().setup()
        subscription = Subscription(
            self.source_service,
            self.event_type,
            self.container.service_name,
            self.method_name,
            self.stream,
        )
        self.queue = subscription.queue()
        self.settings = settings_of(self.container.config)

    @property
    def amqp_uri(self) -> str:
        return str(self.container.config["AMQP_URI"])

    def reject(self, message: Message, reason: str, error: str | None = None) -> None:
        dead_letter(message, self.queue.name, reason, self.amqp_uri, error)
        self.queue_consumer.ack_message(message)
        self._count("dead_lettered")

    def _count(self, outcome: str) -> None:
        metrics.EVENTS_CONSUMED.labels(
            service=self.container.service_name, queue=self.queue.name, outcome=outcome
        ).inc()

    def parse(self, body: Any) -> Any:
        return parse_event(body, self.source_service)

    def handle_message(self, body: Any, message: Message) -> None:
        deliveries = int((message.headers or {}).get("x-delivery-count", 0) or 0)
        if len(message.body or b"") > MAX_MESSAGE_BYTES:
            self.reject(message, f"message of {len(message.body)} bytes exceeds {MAX_MESSAGE_BYTES}")
            return
        if deliveries >= self.settings.delivery_limit:
            self.reject(message, f"failed {deliveries} deliveries")
            return
        try:
            event = self.parse(body)
        except PoisonMessageError as exc:
            self.reject(message, str(exc))
            return
        message.onetrip_correlation_id = getattr(event, "correlation_id", None)
        super().handle_message(event, message)

    def unpack_message_headers(self, message: Message) -> dict[str, Any]:
        """The worker follows the correlation id the event carries (``shared.correlation``)."""
        context: dict[str, Any] = super().unpack_message_headers(message)
        found = getattr(message, "onetrip_correlation_id", None)
        if found:
            context[correlation.CONTEXT_KEY] = found
        return context

    def handle_message_processed(
        self, message: Message, result: Any = None, exc_info: Any = None
    ) -> None:
        if exc_info is None:
            self.queue_consumer.ack_message(message)
            self._count("applied")
            return
        exc = exc_info[1]
        if isinstance(exc, (PoisonMessageError, ValidationError)):
            self.reject(message, f"{type(exc).__name__}: {exc}")
            return
        deliveries = int((message.headers or {}).get("x-delivery-count", 0) or 0)
        if deliveries + 1 >= self.settings.delivery_limit:  # that was the last delivery
            self.reject(message, f"failed {deliveries + 1} deliveries", f"{type(exc).__name__}: {exc}")
            return
        # Quorum queues redeliver at once; a growing pause (0.5, 1, 2, 4 s ... at most 30 s)
        # lets a passing fault clear, such as a service restarting, before the message is
        # dead-lettered. `python -m shared.deadletters replay` brings dead letters back.
        eventlet.sleep(min(0.5 * 2**deliveries, 30.0))
        self.queue_consumer.requeue_message(message)
        self._count("retried")


integration_event_handler = IntegrationEventHandler.decorator


class ManifestHandler(IntegrationEventHandler):
    """``@manifest_handler("approval")``: the manifests of a service's relay, validated."""

    stream = MANIFESTS

    def __init__(self, source_service: str, **kwargs: Any) -> None:
        super().__init__(source_service, "*", **kwargs)

    def parse(self, body: Any) -> Manifest:
        return parse_manifest(body, self.source_service)


manifest_handler = ManifestHandler.decorator
