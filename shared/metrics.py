"""What operators watch: Prometheus metrics of each process (``prometheus_client``).

The gateway answers ``GET /metrics``; every other service serves the same text format on
``ONETRIP_METRICS_PORT`` (``serve``; unset or 0: not served). Figures that live outside the
process — the relay's lag behind its notification log, the depth of a service's queues and of
the dead-letter queue, the ledger's verify state — are read when scraped (``Gauges``), so a
scrape always sees the present and an idle process costs nothing.

Names (all prefixed ``onetrip_``) are listed in ``docs/observability.md``.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress

from amqp.exceptions import ChannelError
from kombu import Connection
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    start_http_server,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

# Latencies of a hall whose slowest promise is a page within a second.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

HTTP_SECONDS = Histogram(
    "onetrip_http_request_seconds", "HTTP requests answered by the gateway",
    ["method", "route", "status"], buckets=BUCKETS,
)
RPC_SECONDS = Histogram(
    "onetrip_rpc_seconds", "RPC requests answered by this service",
    ["service", "method", "outcome"], buckets=BUCKETS,
)
EVENTS_PUBLISHED = Counter(
    "onetrip_events_published", "integration events published (broker-confirmed)",
    ["service", "type"],
)
EVENTS_CONSUMED = Counter(
    "onetrip_events_consumed", "integration events taken from a queue, by outcome",
    ["service", "queue", "outcome"],
)
LEDGER_INTACT = Gauge(
    "onetrip_ledger_intact", "1 when the audit ledger's hash chain verified at the last check"
)
LEDGER_MISSING = Gauge(
    "onetrip_ledger_missing", "published events the audit ledger lacks (after the grace period)"
)
NOTIFICATIONS = Counter(
    "onetrip_notifications", "messages sent by the notify service, by channel and outcome",
    ["channel", "outcome"],
)

CONTENT_TYPE = CONTENT_TYPE_LATEST


def exposition() -> bytes:
    return generate_latest(REGISTRY)


@contextmanager
def timed(histogram: Histogram, **labels: str) -> Iterator[dict[str, str]]:
    """Observes the block's duration; the block may set labels (an outcome) in the dict."""
    found = dict(labels)
    started = time.perf_counter()
    try:
        yield found
    finally:
        histogram.labels(**found).observe(time.perf_counter() - started)


Reading = Callable[[], list[tuple[dict[str, str], float]]]


class Gauges(Collector):
    """Gauges read at scrape time: each registered reading returns (labels, value) pairs; one
    gauge may have several readings (each relay of a process adds its own). A reading that
    fails is left out of that scrape (and logged), never fails the scrape."""

    def __init__(self) -> None:
        self._gauges: dict[str, tuple[str, list[str], list[Reading]]] = {}
        self._lock = threading.Lock()

    def register(self, name: str, documentation: str, labels: list[str], reading: Reading) -> None:
        with self._lock:
            self._gauges.setdefault(name, (documentation, labels, []))[2].append(reading)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        with self._lock:
            gauges = {name: (doc, labels, list(found)) for name, (doc, labels, found)
                      in self._gauges.items()}
        for name, (documentation, labels, readings) in gauges.items():
            family = GaugeMetricFamily(name, documentation, labels=labels)
            for reading in readings:
                try:
                    for values, value in reading():
                        family.add_metric([values[label] for label in labels], value)
                except Exception as exc:  # noqa: BLE001 - a scrape shows what it can read
                    log.warning("metric %s unreadable: %s", name, exc)
            yield family


GAUGES = Gauges()
REGISTRY.register(GAUGES)


def watch_queues(amqp_uri: str, queues: list[str]) -> None:
    """``onetrip_queue_messages{queue}``: messages waiting in each of ``queues`` (a passive
    declare per scrape; a queue not declared yet is left out)."""

    def reading() -> list[tuple[dict[str, str], float]]:
        found = []
        with Connection(amqp_uri, connect_timeout=3) as conn:
            for name in queues:
                channel = conn.channel()
                try:
                    _, messages, _ = channel.queue_declare(name, passive=True)
                except ChannelError:
                    continue
                finally:
                    _close_quietly(channel)
                found.append(({"queue": name}, float(messages)))
        return found

    GAUGES.register("onetrip_queue_messages", "messages waiting in a queue (the dead-letter "
                    "queue onetrip.dead-letter included)", ["queue"], reading)


def _close_quietly(channel: object) -> None:
    with suppress(Exception):  # a channel the broker already closed
        channel.close()  # type: ignore[attr-defined]


def serve(port: int, host: str = "127.0.0.1") -> None:
    """``ONETRIP_METRICS_PORT``: the metrics of this process over HTTP (``0``: none)."""
    if port:
        start_http_server(port, addr=host)
        log.info("metrics on http://%s:%d/metrics", host, port)
