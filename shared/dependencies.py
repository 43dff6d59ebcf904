"""nameko dependency providers shared by every service."""
from __future__ import annotations

import logging
from typing import Any, Generic, TypeVar
from weakref import WeakKeyDictionary

from nameko.extensions import DependencyProvider

from shared import correlation
from shared.config import settings_of
from shared.eventstore import EventStores, open_application
from shared.relay import OutboxRelay

log = logging.getLogger(__name__)

A = TypeVar("A", bound=EventStores)


class Correlated(DependencyProvider):  # type: ignore[misc]
    """Each worker's green thread follows the request or event it serves: its log lines and
    the events it records carry that correlation id (``shared.correlation``)."""

    def __init__(self) -> None:
        self._bound: WeakKeyDictionary[Any, Any] = WeakKeyDictionary()

    def worker_setup(self, worker_ctx: Any) -> None:
        self._bound[worker_ctx] = correlation.enter(
            worker_ctx.context_data.get(correlation.CONTEXT_KEY)
        )

    def worker_teardown(self, worker_ctx: Any) -> None:
        token = self._bound.pop(worker_ctx, None)
        if token is not None:
            correlation.leave(token)


class EventStore(Correlated, Generic[A]):
    """Opens the service's application once per container and runs its outbox relay.

    Every instance of a service runs a relay; only one of them is active at a time.
    """

    def __init__(self, application_class: type[A], *, relay: bool = True) -> None:
        super().__init__()
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


T = TypeVar("T")


class Provided(DependencyProvider, Generic[T]):  # type: ignore[misc]
    """A collaborator built once per container (``build``), handed to every worker, and
    closed when the container stops or is killed (``close``)."""

    def __init__(self) -> None:
        self.value: T | None = None

    def build(self) -> T:
        raise NotImplementedError

    def close(self, value: T) -> None:
        pass

    def setup(self) -> None:
        self.value = self.build()

    def stop(self) -> None:
        if self.value is not None:
            self.close(self.value)

    def kill(self) -> None:
        self.stop()

    def get_dependency(self, worker_ctx: Any) -> T:
        assert self.value is not None
        return self.value
