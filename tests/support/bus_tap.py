"""What another campus system sees on the bus: every event published on every service's
``<service>.events`` exchange, read with the ``campus`` credentials into a queue of its own."""
from __future__ import annotations

import json
import threading
import uuid
from typing import Any

from kombu import Connection, Exchange, Queue

from shared.busaccess import bus_user, login_uri
from shared.topology import PUBLISHERS, events_exchange


class BusTap:
    def __init__(self, amqp_uri: str) -> None:
        campus = bus_user("campus")
        assert campus is not None
        self.connection = Connection(login_uri(amqp_uri, campus))
        self.events: list[dict[str, Any]] = []
        self._stop = threading.Event()
        name = f"campus.tap-{uuid.uuid4().hex[:8]}"
        self.queues = [
            Queue(name, exchange=Exchange(events_exchange(service).name, type="topic",
                                          no_declare=True),
                  routing_key="#", exclusive=True, auto_delete=True)
            for service in PUBLISHERS
        ]
        self.channel = self.connection.channel()
        for bound in self.queues:
            bound(self.channel).declare()
        self.consumer = self.connection.Consumer(self.queues[:1], callbacks=[self._on_message],
                                                 accept=["json"], channel=self.channel)
        self.consumer.consume()
        self._thread = threading.Thread(target=self._drain, daemon=True)
        self._thread.start()

    def _on_message(self, body: Any, message: Any) -> None:
        self.events.append(body if isinstance(body, dict) else json.loads(body))
        message.ack()

    def _drain(self) -> None:
        while not self._stop.is_set():
            try:
                self.connection.drain_events(timeout=0.2)
            except TimeoutError:
                continue

    def types(self) -> list[str]:
        return [event["type"] for event in list(self.events)]

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.connection.release()
