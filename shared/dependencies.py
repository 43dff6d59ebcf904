"""nameko dependency providers shared by every service."""
from __future__ import annotations

import logging
from typing import Any, Generic, TypeVar

from nameko.extensions import DependencyProvider

from shared.config import settings_of
from shared.eventstore import EventStores, open_application
from shared.relay import OutboxRelay

log = logging.getLogger(__name__)

A = TypeVar("A", bound=EventStores)


class EventStore(DependencyProvider, Generic[A]):
    """Opens the service's application once per container and runs its outbox relay.

    Every instance of a service runs a relay; only one of them is active at a time.
    """

    def __init__(self, application_class: type[A], *, relay: bool = True) -> None:
        self.application_class = application_class
        self.relay_enabled = relay
        self.app: A | None = None
        self.relay: OutboxRelay | None = None

    def setup(self) -> None:
        settings = settings_of(self.container.config)
        self.app = open_application(self.application_class, self.application_class.service, settings)
        if self.relay_enabled:
            self.relay = OutboxRelay(self.app.outbox, settings)

    def start(self) -> None:
        if self.relay is not None:
            self.container.spawn_managed_thread(self.relay.run, identifier="outbox-relay")

    def stop(self) -> None:
        if self.relay is not None:
            self.relay.stop()
        if self.app is not None:
            self.app.close()

    def kill(self) -> None:
        self.stop()

    def get_dependency(self, worker_ctx: Any) -> A:
        assert self.app is not None
        return self.app
