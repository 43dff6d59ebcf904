"""The bus's shape: one topic exchange per publishing service, one durable quorum queue per
subscription. A relay declares the queues of its service's subscribers before it publishes,
so an event published while a consumer has never started still waits for it.

Beside its events each service's relay publishes manifests (``shared.contracts.Manifest``:
which notifications became integration events) on an exchange of their own,
``<service>.manifests``, so that consumers binding ``#`` on ``<service>.events`` never see
them; the audit service reads them to know what its ledger must hold (``LEDGER.md``).

Only the publisher (and ``shared.bootstrap``) declares an exchange: a subscriber binds its queue
to an exchange it may read but not configure (``shared.busaccess``)."""
from __future__ import annotations

from dataclasses import dataclass

from kombu import Exchange, Queue

EVENTS, MANIFESTS = "events", "manifests"


def events_exchange(service: str, declare: bool = True) -> Exchange:
    # nameko's convention, so nameko @event_handler and other systems can bind to it.
    return Exchange(
        f"{service}.events", type="topic", durable=True, auto_delete=False, no_declare=not declare
    )


def manifests_exchange(service: str, declare: bool = True) -> Exchange:
    return Exchange(
        f"{service}.manifests", type="topic", durable=True, auto_delete=False, no_declare=not declare
    )


@dataclass(frozen=True)
class Subscription:
    source: str
    event_type: str  # "*" for every type
    consumer: str
    method: str
    stream: str = EVENTS  # or MANIFESTS

    @property
    def queue_name(self) -> str:
        if self.stream == MANIFESTS:
            return f"mft-{self.source}--{self.consumer}.{self.method}"
        kind = "all" if self.event_type == "*" else self.event_type
        return f"evt-{self.source}-{kind}--{self.consumer}.{self.method}"

    def exchange(self, declare: bool = True) -> Exchange:
        of_stream = manifests_exchange if self.stream == MANIFESTS else events_exchange
        return of_stream(self.source, declare)

    def queue(self) -> Queue:
        return Queue(
            self.queue_name,
            exchange=self.exchange(declare=False),
            routing_key="#" if self.event_type == "*" else self.event_type,
            durable=True,
            auto_delete=False,
            queue_arguments={"x-queue-type": "quorum"},
        )


PUBLISHERS = ("catalogue", "approval", "notify", "audit", "gateway")
# Every service whose events the audit ledger holds (the audit service does not hear itself).
LEDGER_SOURCES = tuple(source for source in PUBLISHERS if source != "audit")

SUBSCRIPTIONS: tuple[Subscription, ...] = (
    Subscription("catalogue", "item_published", "approval", "on_item_published"),
    Subscription("catalogue", "item_retired", "approval", "on_item_retired"),
    Subscription("catalogue", "*", "notify", "on_catalogue_event"),
    Subscription("approval", "*", "notify", "on_case_event"),
    *(Subscription(source, "*", "audit", "on_event") for source in LEDGER_SOURCES),
    *(Subscription(source, "*", "audit", "on_manifest", MANIFESTS) for source in LEDGER_SOURCES),
)


def subscriptions_of(source: str) -> list[Subscription]:
    return [s for s in SUBSCRIPTIONS if s.source == source]


def ledger_queues() -> list[str]:
    """The queues the audit service appends from: a dead letter from one of them is an
    event the ledger lacks."""
    return [s.queue_name for s in SUBSCRIPTIONS if s.consumer == "audit" and s.stream == EVENTS]
