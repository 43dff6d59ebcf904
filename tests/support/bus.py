"""Looking at the bus from a test: what was published, what was dead-lettered, raw injections."""
from __future__ import annotations

import json
import socket
import threading
from typing import Any

from kombu import Connection, Exchange, Queue

from shared.messaging import DEAD_LETTER_QUEUE


class Observer:
    """A queue of the test's own, bound to an exchange, that remembers every message."""

    def __init__(self, amqp_uri: str, exchange: str, name: str = "test-observer") -> None:
        self.amqp_uri = amqp_uri
        self.queue = Queue(
            name, exchange=Exchange(exchange, type="topic", durable=True), routing_key="#", durable=True
        )
        with Connection(amqp_uri) as conn:
            self.queue(conn.channel()).declare()

    def drain(self) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        with Connection(self.amqp_uri) as conn:
            bound = self.queue(conn.channel())
            while (message := bound.get(no_ack=True)) is not None:
                messages.append(json.loads(message.body))
        return messages


def dead_letters(amqp_uri: str) -> list[tuple[dict[str, Any], bytes]]:
    found = []
    with Connection(amqp_uri) as conn:
        bound = DEAD_LETTER_QUEUE(conn.channel())
        bound.declare()
        while (message := bound.get(no_ack=False)) is not None:
            found.append((dict(message.headers or {}), message.body))
            message.ack()
    return found


def publish_raw(
    amqp_uri: str, exchange: str, routing_key: str, body: bytes, content_type: str = "application/json"
) -> None:
    with Connection(amqp_uri, transport_options={"confirm_publish": True}) as conn:
        producer = conn.Producer()
        producer.publish(
            body,
            exchange=Exchange(exchange, type="topic", durable=True),
            routing_key=routing_key,
            content_type=content_type,
            content_encoding="utf-8",
            delivery_mode=2,
        )


class CuttableProxy:
    """A TCP proxy to the broker whose connections a test can cut at any moment."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.connections: list[socket.socket] = []
        self.lock = threading.Lock()
        self.cuts = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            with self.lock:
                self.connections += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def cut(self) -> None:
        with self.lock:
            for conn in self.connections:
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                    conn.close()
                except OSError:
                    pass
            self.connections = []
            self.cuts += 1

    def close(self) -> None:
        self.cut()
        self.listener.close()
