"""How fast the event backbone moves events, against the raw speed of the same PostgreSQL.

    .venv/bin/python bench/backbone.py [--events 2000]      (or: make bench)

In one run, on a throwaway database and RabbitMQ vhost (both removed afterwards):
  (a) raw psycopg single-row INSERT commits/s (autocommit, the server's fsync setting);
  (b) ``Application.save()`` of one new aggregate (one event) per save, events/s;
  (c) the real ping service process's outbox relay publishing that backlog, events/s;
  (c') bare kombu publishes, persistent, awaiting each one's confirm in turn (how the relay
       published before it awaited a batch's confirms together);
  (d1) the consumer's application applying them in-process, with tracking records;
  (d2) the real tally service process consuming the relayed backlog, with tracking records;
  (e) the whole pipeline: saves while both services run, until every event is tallied;
  (a') the raw INSERT again, to show how much the shared machine drifted meanwhile.
Every figure is also given as a ratio to the mean of (a) and (a').
Loopback servers only; every wait is bounded.
"""
from __future__ import annotations

import argparse
import os
import platform
import signal
import statistics
import sys
import tempfile
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
warnings.filterwarnings("ignore", message=r"(?s).*Eventlet is deprecated")

import psycopg
from kombu import Connection, Exchange, Producer, Queue
from psycopg import sql

from shared.bootstrap import declare_exchanges
from shared.busaccess import BrokerAdmin
from shared.config import DEFAULTS, Database, Settings
from shared.eventstore import application_env, ensure_schema
from shared.relay import events_exchange
from tests.support.backbone_services import (
    TALLY_QUEUE,
    PingApplication,
    TallyApplication,
)
from tests.support.processes import ServiceProcess

PING = "tests.support.backbone_services:PingService"
TALLY = "tests.support.backbone_services:TallyService"
LABELS = ("公房装修改造申请", "校园网开通", "科研经费报销", "教室借用")
TIMEOUT_SECONDS = 300.0
SAMPLE_SECONDS = 0.01


@dataclass(frozen=True)
class Measurement:
    name: str
    events: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.events / self.seconds


# -- waiting on a counter -----------------------------------------------------------


def wait_until(
    read: Callable[[], int], target: int, alive: Callable[[], Any] = lambda: True
) -> tuple[float, int, float]:
    """Sample ``read`` until it reaches ``target``.

    Returns (time it first moved above zero, its value then, time it reached the target),
    so a rate can be taken between two observations of real progress.
    """
    deadline = time.monotonic() + TIMEOUT_SECONDS
    first: tuple[float, int] | None = None
    while time.monotonic() < deadline:
        alive()
        value = read()
        now = time.monotonic()
        if value and first is None:
            first = (now, value)
        if value >= target:
            assert first is not None
            return first[0], first[1], now
        time.sleep(SAMPLE_SECONDS)
    raise TimeoutError(f"counter stuck below {target} after {TIMEOUT_SECONDS}s")


def rate_between(
    name: str, started: float, start_value: int, ended: float, target: int
) -> Measurement:
    if target <= start_value:
        raise RuntimeError(f"{name}: all done before the first sample; use more --events")
    return Measurement(name, target - start_value, ended - started)


def table_exists(conn: psycopg.Connection[Any], table: str) -> bool:
    row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (table,)).fetchone()
    return bool(row and row[0])


def scalar(conn: psycopg.Connection[Any], query: str) -> int:
    row = conn.execute(query).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


# -- (a) raw INSERT ------------------------------------------------------------------


def raw_inserts(database_url: str, events: int, name: str) -> Measurement:
    payload = '{"label": "公房装修改造申请", "actor": "teacher1"}' * 3
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS bench_rows (id bigserial PRIMARY KEY, body text)")
        started = time.perf_counter()
        for _ in range(events):
            conn.execute("INSERT INTO bench_rows (body) VALUES (%s)", (payload,))
        seconds = time.perf_counter() - started
    return Measurement(name, events, seconds)


# -- (b) Application.save() ------------------------------------------------------------


def ping_application(settings: Settings) -> PingApplication:
    ensure_schema(settings.database, PingApplication.service)
    return PingApplication(env=application_env(PingApplication.service, settings))


def saves(app: PingApplication, events: int) -> Measurement:
    started = time.perf_counter()
    for number in range(events):
        app.send([f"{LABELS[number % len(LABELS)]} #{number}"], actor="teacher1")
    seconds = time.perf_counter() - started
    return Measurement("(b) Application.save(), one event each", events, seconds)


# -- (c) the relay ------------------------------------------------------------------------


def declare_tally_queue(amqp_uri: str) -> None:
    """Bind the consumer's queue before the relay runs, so the backlog waits for it there.

    Declared exactly as ``shared.messaging.IntegrationEventHandler`` declares it.
    """
    queue = Queue(
        TALLY_QUEUE,
        exchange=events_exchange("ping"),
        routing_key="ping_sent",
        durable=True,
        auto_delete=False,
        queue_arguments={"x-queue-type": "quorum"},
    )
    with Connection(amqp_uri, connect_timeout=5) as conn:
        queue(conn.channel()).declare()


def queued_messages(amqp_uri: str) -> int:
    with Connection(amqp_uri, connect_timeout=5) as conn:
        _, messages, _ = conn.channel().queue_declare(queue=TALLY_QUEUE, passive=True)
        return int(messages)


def assert_backlog_queued(amqp_uri: str, events: int) -> None:
    wait_until(lambda: queued_messages(amqp_uri), events)
    queued = queued_messages(amqp_uri)
    if queued != events:
        raise AssertionError(f"the relay queued {queued} messages for {events} events")


def relay_position(conn: psycopg.Connection[Any]) -> int:
    if not table_exists(conn, "ping.relay_position"):
        return 0
    return scalar(conn, "SELECT max(notification_id) FROM ping.relay_position")


def relayed(service: ServiceProcess, database_url: str, last_id: int) -> Measurement:
    with psycopg.connect(database_url, autocommit=True) as conn:
        started, first, ended = wait_until(lambda: relay_position(conn), last_id, service.alive)
    return rate_between("(c) outbox relay, confirmed publishes", started, first, ended, last_id)


def bare_publishes(amqp_uri: str, events: int) -> Measurement:
    """Persistent publishes awaiting one confirm at a time: how the relay published before it
    awaited a whole batch's confirms together (the comparison for row (c))."""
    exchange = Exchange("bench.bare", type="topic", durable=True)
    queue = Queue(
        "bench.bare",
        exchange=exchange,
        routing_key="#",
        durable=True,
        queue_arguments={"x-queue-type": "quorum"},
    )
    body = {"type": "ping_sent", "data": {"label": "公房装修改造申请"}, "actor": "teacher1"}
    confirmed = {"confirm_publish": True}
    with Connection(amqp_uri, transport_options=confirmed, connect_timeout=5) as conn:
        producer = Producer(conn.channel(), exchange=exchange)
        queue(producer.channel).declare()
        started = time.perf_counter()
        for _ in range(events):
            producer.publish(
                body, routing_key="ping_sent", serializer="json", delivery_mode=2, retry=False
            )
        seconds = time.perf_counter() - started
        queue(producer.channel).delete()
    return Measurement("(c') bare kombu publish, one confirm at a time", events, seconds)


# -- (d) consuming with tracking --------------------------------------------------------------


def consumed_in_process(ping: PingApplication, settings: Settings, events: int) -> Measurement:
    """The consumer's application alone, in a plain thread: no nameko, eventlet or broker."""
    schema = "tally_in_process"
    ensure_schema(settings.database, schema)
    tally = TallyApplication(env=application_env(schema, settings))
    try:
        notifications = ping.recorder.select_notifications(start=1, limit=events)
        integration_events = [ping.integration_event(n) for n in notifications]
        started = time.perf_counter()
        for event in integration_events:
            assert event is not None and tally.consume(event)
        seconds = time.perf_counter() - started
        return Measurement("(d1) consume() in-process, with tracking", events, seconds)
    finally:
        tally.close()


def tally_count(conn: psycopg.Connection[Any]) -> int:
    if not table_exists(conn, "tally.tally_events"):
        return 0
    return scalar(conn, "SELECT count(*) FROM tally.tally_events")


def consumed(service: ServiceProcess, database_url: str, events: int) -> Measurement:
    with psycopg.connect(database_url, autocommit=True) as conn:
        started, first, ended = wait_until(lambda: tally_count(conn), events, service.alive)
    return rate_between("(d2) consumer service, with tracking", started, first, ended, events)


def assert_each_tallied_once(database_url: str, events: int) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        tallies = tally_count(conn)
        pings = scalar(
            conn,
            "SELECT count(DISTINCT convert_from(state, 'UTF8')::json->>'ping_id') "
            "FROM tally.tally_events",
        )
        tracked = scalar(conn, "SELECT count(*) FROM tally.tally_tracking")
    if not tallies == pings == tracked == events:
        raise AssertionError(
            f"{events} events gave {tallies} tallies of {pings} pings, {tracked} tracked"
        )


# -- (e) the whole pipeline -------------------------------------------------------------------


def pipeline(
    app: PingApplication, tally: ServiceProcess, database_url: str, already: int, events: int
) -> Measurement:
    with psycopg.connect(database_url, autocommit=True) as conn:
        started = time.monotonic()
        saves(app, events)
        wait_until(lambda: tally_count(conn), already + events, tally.alive)
        ended = time.monotonic()
    return Measurement("(e) save → relay → consume, all running", events, ended - started)


# -- the throwaway servers -------------------------------------------------------------------


@contextmanager
def throwaway_database(base_url: str) -> Iterator[str]:
    name = f"onetrip_bench_{uuid.uuid4().hex[:8]}"
    admin = Database.from_url(base_url).conninfo("postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield urlunsplit(urlsplit(base_url)._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
            conn.execute(drop.format(sql.Identifier(name)))


@contextmanager
def throwaway_vhost(base_uri: str) -> Iterator[str]:
    """A virtual host set up as ``shared.bootstrap`` sets one up (bus users, exchanges)."""
    vhost = f"onetrip-bench-{uuid.uuid4().hex[:8]}"
    broker = BrokerAdmin.of(base_uri)
    broker.grant(vhost)
    try:
        uri = urlunsplit(urlsplit(base_uri)._replace(path="/" + quote(vhost, safe="")))
        declare_exchanges(uri)
        yield uri
    finally:
        broker.revoke(vhost)


def progress(measurement: Measurement) -> Measurement:
    print(f"  {measurement.name}: {measurement.per_second:,.0f}/s", file=sys.stderr, flush=True)
    return measurement


# -- the run ----------------------------------------------------------------------------------


@contextmanager
def service_processes(env: dict[str, str]) -> Iterator[Callable[[str], ServiceProcess]]:
    started: list[ServiceProcess] = []
    log_dir = Path(tempfile.mkdtemp(prefix="onetrip-bench-"))

    def start(target: str) -> ServiceProcess:
        process = ServiceProcess(target, env, log_dir).start()
        started.append(process)
        return process

    try:
        yield start
    finally:
        stoppers = [threading.Thread(target=p.stop) for p in started]
        for stopper in stoppers:
            stopper.start()
        for stopper in stoppers:
            stopper.join()


def service_env(database_url: str, amqp_uri: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "ONETRIP_FAULT"}
    env.update({"DATABASE_URL": database_url, "AMQP_URI": amqp_uri, "ONETRIP_LOG_LEVEL": "WARNING",
                "ONETRIP_ENV": "development"})
    return env


def run(base_database_url: str, base_amqp_uri: str, events: int) -> list[Measurement]:
    with ExitStack() as stack:
        database_url = stack.enter_context(throwaway_database(base_database_url))
        amqp_uri = stack.enter_context(throwaway_vhost(base_amqp_uri))
        print_machine(describe_machine(database_url, amqp_uri))
        settings = Settings(amqp_uri=amqp_uri, database_url=database_url)
        app = ping_application(settings)
        stack.callback(app.close)
        start = stack.enter_context(service_processes(service_env(database_url, amqp_uri)))
        return measure(app, settings, start, events)


def measure(
    app: PingApplication, settings: Settings, start: Callable[[str], ServiceProcess], events: int
) -> list[Measurement]:
    database_url, amqp_uri = settings.database_url, settings.amqp_uri
    results = [progress(raw_inserts(database_url, events, "(a) raw INSERT, one row per commit"))]
    results.append(progress(saves(app, events)))
    declare_tally_queue(amqp_uri)
    results.append(progress(relayed(start(PING), database_url, app.recorder.max_notification_id())))
    assert_backlog_queued(amqp_uri, events)
    results.append(progress(bare_publishes(amqp_uri, events)))
    results.append(progress(consumed_in_process(app, settings, events)))
    tally = start(TALLY)
    results.append(progress(consumed(tally, database_url, events)))
    assert_each_tallied_once(database_url, events)
    results.append(progress(pipeline(app, tally, database_url, events, events // 2)))
    assert_each_tallied_once(database_url, events + events // 2)
    results.append(progress(raw_inserts(database_url, events, "(a') raw INSERT again, at the end")))
    return results


# -- reporting ------------------------------------------------------------------------------------


def describe_machine(database_url: str, amqp_uri: str) -> dict[str, str]:
    with psycopg.connect(database_url) as conn:
        pg = conn.execute("SHOW server_version").fetchone()
        fsync = conn.execute("SHOW fsync").fetchone()
        sync_commit = conn.execute("SHOW synchronous_commit").fetchone()
    with Connection(amqp_uri, connect_timeout=5) as amqp:
        amqp.connect()
        rabbit = amqp.connection.server_properties.get("version", "?")
    return {
        "date": datetime.now().astimezone().isoformat(timespec="seconds"),
        "cpus (nproc)": str(os.cpu_count()),
        "memory": memory(),
        "python": platform.python_version(),
        "postgresql": f"{pg[0] if pg else '?'} (fsync={fsync[0] if fsync else '?'}, "
        f"synchronous_commit={sync_commit[0] if sync_commit else '?'})",
        "rabbitmq": rabbit.decode() if isinstance(rabbit, bytes) else str(rabbit),
    }


def memory() -> str:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    return "?"


def print_machine(machine: dict[str, str]) -> None:
    for key, value in machine.items():
        print(f"{key:>14}: {value}", flush=True)


def print_report(results: list[Measurement]) -> None:
    # The machine is shared and noisy: (a) is taken first and last, ratios use their mean.
    raw = statistics.mean(r.per_second for r in results if r.name.startswith("(a"))
    print()
    print(f"{'benchmark':<42} {'events':>7} {'seconds':>8} {'events/s':>9} {'÷ raw':>7}")
    print("-" * 77)
    for result in results:
        print(
            f"{result.name:<42} {result.events:>7} {result.seconds:>8.2f} "
            f"{result.per_second:>9,.0f} {result.per_second / raw:>7.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=2000, help="events per row (default 2000)")
    args = parser.parse_args()
    # Stopped early, it still stops its services and drops its database and vhost.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    results = run(
        os.environ.get("DATABASE_URL") or DEFAULTS["DATABASE_URL"],
        os.environ.get("AMQP_URI") or DEFAULTS["AMQP_URI"],
        args.events,
    )
    print_report(results)


if __name__ == "__main__":
    main()
