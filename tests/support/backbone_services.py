"""A producer and a consumer built only from the backbone's parts, to test the backbone itself.

``ping`` stores ``Ping.Sent`` events (published as ``ping_sent``); ``tally`` consumes them
exactly once into ``Tally`` aggregates, one per ping. ``ONETRIP_FAULT=consumer_mid_handler``
makes the consumer die inside its handler, before anything is recorded.
"""
from __future__ import annotations

import os
import uuid
from typing import Any

from eventsourcing.application import ProcessingEvent
from eventsourcing.domain import Aggregate, event
from nameko.rpc import rpc

from shared.contracts import IntegrationEvent
from shared.dependencies import EventStore
from shared.eventstore import ConsumingApplication, OnetripApplication, Publication
from shared.messaging import integration_event_handler
from shared.service import HealthCheckMixin


class Ping(Aggregate):
    @event("Sent")
    def __init__(self, label: str, actor: str) -> None:
        self.label = label
        self.actor = actor


class PingApplication(OnetripApplication):
    name = "ping"
    service = "ping"

    def send(self, labels: list[str], actor: str) -> list[str]:
        pings = [Ping(label, actor) for label in labels]
        self.save(*pings)
        return [str(p.id) for p in pings]

    def publication(self, domain_event: Any) -> Publication | None:
        if isinstance(domain_event, Ping.Sent):
            return Publication("ping_sent", {"label": domain_event.label}, domain_event.actor)
        return None


class Tally(Aggregate):
    @event("Counted")
    def __init__(self, ping_id: str, label: str, notification_id: int) -> None:
        self.ping_id = ping_id
        self.label = label
        self.notification_id = notification_id


class TallyApplication(ConsumingApplication):
    name = "tally"
    service = "tally"

    def policy(self, domain_event: Any, processing_event: ProcessingEvent[Any]) -> None:
        assert isinstance(domain_event, IntegrationEvent)
        if os.environ.get("ONETRIP_FAULT") == "consumer_mid_handler":
            os._exit(17)
        if domain_event.data.get("label") == "always-fails":
            raise RuntimeError("this handler fails every time")
        if domain_event.data.get("label") == "fails-while-flagged" and os.path.exists(
            os.environ.get("TALLY_FAIL_FLAG", "/nonexistent")
        ):
            raise RuntimeError("a dependency is down (the flag file exists)")
        processing_event.collect_events(
            Tally(domain_event.aggregate_id, domain_event.data["label"], domain_event.notification_id)
        )


class PingService(HealthCheckMixin):
    name = "ping"
    store: PingApplication = EventStore(PingApplication)  # type: ignore[assignment]

    @rpc
    def send(self, labels: list[str]) -> list[str]:
        return self.store.send(labels, actor="tester")


class TallyService(HealthCheckMixin):
    name = "tally"
    store: TallyApplication = EventStore(TallyApplication, relay=False)  # type: ignore[assignment]

    @integration_event_handler("ping", "ping_sent")
    def on_ping(self, event: IntegrationEvent) -> None:
        self.store.consume(event)


TALLY_QUEUE = "evt-ping-ping_sent--tally.on_ping"
PING_QUEUE = "rpc-ping"
NAMESPACE = uuid.NAMESPACE_URL
