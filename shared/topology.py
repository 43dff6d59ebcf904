"""The bus's shape: one topic exchange per publishing service, one durable quorum queue per
subscription. A relay declares the queues of its service's subscribers before it publishes,
so an event published while a consumer has never started still waits for it.

Only the publisher (and ``shared.bootstrap``) declares an exchange: a subscriber binds its queue
to an exchange it may read but not configure (``shared.busaccess``)."""
from __future__ import annotations

from dataclasses import dataclass

from kombu import Exchange, Queue


def events_exchange(service: str, declare: bool = True) -> Exchange:
    # nameko's convention, so nameko @event_handler and other systems can bind to it.
    return Exchange(
        f"{service}.events", type="topic", durable=True, auto_delete=False, no_declare=not declare
    )


@dataclass(frozen=True)
class Subscription:
    source: str
    event_type: str  # "*" for every type
    consumer: str
    method: str

    @property
    def queue_name(self) -> str:
        kind = "all" if self.event_type == "*" else self.event_type
        return f"evt-{self.source}-{kind}--{self.consumer}.{self.method}"

    def queue(self) -> Queue:
        return Queue(
            self.queue_name,
            exchange=events_exchange(self.source, declare=False),
            routing_key="#" if self.event_type == "*" else self.event_type,
            durable=True,
            auto_delete=False,
            queue_arguments={"x-queue-type": "quorum"},
        )


PUBLISHERS = ("catalogue", "approval", "notify", "audit", "gateway")

SUBSCRIPTIONS: tuple[Subscription, ...] = (
    Subscription("catalogue", "item_published", "approval", "on_item_published"),
    Subscription("catalogue", "item_retired", "approval", "on_item_retired"),
    Subscription("catalogue", "*", "notify", "on_catalogue_event"),
    Subscription("approval", "*", "notify", "on_case_event"),
    *(Subscription(source, "*", "audit", "on_event") for source in PUBLISHERS if source != "audit"),
)


def subscriptions_of(source: str) -> list[Subscription]:
    return [s for s in SUBSCRIPTIONS if s.source == source]
