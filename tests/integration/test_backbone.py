"""The backbone: an event saved by one service reaches another, with exactly-once effects,
whatever crashes, cuts and poison the bus throws at it."""
from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from kombu import Connection, Exchange, Queue

from shared.config import Settings
from shared.contracts import IntegrationEvent
from shared.deadletters import replay
from shared.eventstore import application_env, ensure_schema
from shared.topology import events_exchange
from tests.support.backbone_services import PING_QUEUE, TALLY_QUEUE, PingApplication
from tests.support.bus import CuttableProxy, Observer, dead_letters, publish_raw
from tests.support.processes import ProcessGroup, eventually

pytestmark = pytest.mark.integration

PING = "tests.support.backbone_services:PingService"
TALLY = "tests.support.backbone_services:TallyService"


@pytest.fixture(autouse=True)
def ping_exchange(amqp_uri: str) -> None:
    # As shared.bootstrap declares every service's exchange: a subscriber does not declare one.
    with Connection(amqp_uri) as conn:
        events_exchange("ping")(conn.channel()).declare()


@pytest.fixture
def pings(service_env: dict[str, str]) -> Iterator[PingApplication]:
    settings = Settings(amqp_uri=service_env["AMQP_URI"], database_url=service_env["DATABASE_URL"])
    ensure_schema(settings.database, "ping")
    app = PingApplication(env=application_env("ping", settings))
    yield app
    app.close()


@pytest.fixture
def observer(service_env: dict[str, str]) -> Observer:
    return Observer(service_env["AMQP_URI"], "ping.events")


def tallies(database_url: str) -> Counter[str]:
    """How many times the consumer applied each ping, read from its own event store."""
    with psycopg.connect(database_url) as conn:
        if conn.execute("SELECT to_regclass('tally.tally_events')").fetchone() == (None,):
            return Counter()
        rows = conn.execute(
            "SELECT convert_from(state, 'UTF8')::json->>'ping_id' FROM tally.tally_events"
        ).fetchall()
    return Counter(row[0] for row in rows)


def all_tallied_once(database_url: str, ids: list[str]) -> Counter[str]:
    counted = tallies(database_url)
    assert set(counted) == set(ids), f"{len(counted)} of {len(ids)} tallied"
    return counted


def assert_each_once(database_url: str, ids: list[str]) -> None:
    counted = eventually(lambda: all_tallied_once(database_url, ids), timeout=30)
    time.sleep(1.0)  # a late duplicate would show up here
    counted = tallies(database_url)
    assert counted == Counter({ping: 1 for ping in ids})


def event_for(ping_id: str, notification_id: int, label: str = "公房装修", **changes: Any) -> dict[str, Any]:
    event = IntegrationEvent.build(
        type="ping_sent",
        service="ping",
        aggregate_id=ping_id,
        aggregate_version=1,
        notification_id=notification_id,
        occurred_at=datetime.now(UTC),
        actor="teacher1",
        data={"label": label},
    ).to_wire()
    event.update(changes)
    return event


def test_an_event_saved_by_one_service_is_applied_once_by_another(
    processes: ProcessGroup, service_env: dict[str, str], pings: PingApplication, observer: Observer
) -> None:
    # Given the producing and the consuming service are running
    processes.start(PING).wait_for_queue(PING_QUEUE)
    processes.start(TALLY).wait_for_queue(TALLY_QUEUE)
    # When the producer saves three events
    ids = pings.send(["公房装修", "网络开通", "经费核算"], actor="teacher1")
    # Then each reaches the consumer and is applied exactly once
    assert_each_once(service_env["DATABASE_URL"], ids)
    # And the bus carried the versioned envelope other campus systems read
    published = eventually(observer.drain)
    assert {m["aggregate_id"] for m in published} == set(ids)
    first = published[0]
    assert first["type"] == "ping_sent" and first["schema_version"] == 1 and first["service"] == "ping"
    assert first["actor"] == "teacher1" and first["aggregate_version"] == 1
    assert {"event_id", "occurred_at", "notification_id", "data"} <= set(first)


def test_relay_killed_between_confirm_and_position_publishes_twice_but_applies_once(
    processes: ProcessGroup, service_env: dict[str, str], pings: PingApplication, observer: Observer
) -> None:
    # Given a relay that dies right after the broker confirmed, before saving its position
    processes.start(TALLY).wait_for_queue(TALLY_QUEUE)
    ids = pings.send(["一", "二", "三"], actor="teacher1")
    crashing = processes.start(PING, ONETRIP_FAULT="relay_after_confirm")
    assert crashing.wait_exit() == 17
    # When it restarts without the fault
    processes.start(PING).wait_for_queue(PING_QUEUE)
    # Then every event was published twice
    def published_twice() -> Counter[str]:
        seen = Counter(m["aggregate_id"] for m in observer.drain())
        published_twice.seen.update(seen)  # type: ignore[attr-defined]
        return published_twice.seen if set(published_twice.seen.values()) == {2} and len(published_twice.seen) == 3 else Counter()  # type: ignore[attr-defined]
    published_twice.seen = Counter()  # type: ignore[attr-defined]
    eventually(published_twice)
    # And each was applied once
    assert_each_once(service_env["DATABASE_URL"], ids)


def test_consumer_killed_inside_its_handler_applies_the_redelivery_once(
    processes: ProcessGroup, service_env: dict[str, str], pings: PingApplication
) -> None:
    # Given a consumer that dies in the middle of handling its first message
    processes.start(PING).wait_for_queue(PING_QUEUE)
    dying = processes.start(TALLY, ONETRIP_FAULT="consumer_mid_handler").wait_for_queue(TALLY_QUEUE)
    ids = pings.send(["公房装修改造申请"], actor="teacher1")
    assert dying.wait_exit() == 17
    # When the consumer comes back
    processes.start(TALLY).wait_for_queue(TALLY_QUEUE)
    # Then the redelivered message is applied exactly once
    assert_each_once(service_env["DATABASE_URL"], ids)


def test_the_same_message_injected_five_times_is_applied_once(
    processes: ProcessGroup, service_env: dict[str, str]
) -> None:
    # Given the consumer is running
    processes.start(TALLY).wait_for_queue(TALLY_QUEUE)
    ping_id = str(uuid.uuid4())
    body = json.dumps(event_for(ping_id, notification_id=41)).encode()
    # When one message arrives five times
    for _ in range(5):
        publish_raw(service_env["AMQP_URI"], "ping.events", "ping_sent", body)
    # Then it is applied once
    assert_each_once(service_env["DATABASE_URL"], [ping_id])


def test_poisoned_messages_are_dead_lettered_and_the_consumer_goes_on(
    processes: ProcessGroup, service_env: dict[str, str]
) -> None:
    # Given the consumer is running
    tally = processes.start(TALLY).wait_for_queue(TALLY_QUEUE)
    amqp = service_env["AMQP_URI"]
    good = str(uuid.uuid4())
    # When poison arrives: not JSON, no schema version, missing fields, 10 MB, a handler that always fails
    publish_raw(amqp, "ping.events", "ping_sent", b"\x00\xff not json {")
    publish_raw(amqp, "ping.events", "ping_sent", json.dumps(event_for(str(uuid.uuid4()), 1, schema_version=0)).encode())
    publish_raw(amqp, "ping.events", "ping_sent", json.dumps({"type": "ping_sent"}).encode())
    huge = event_for(str(uuid.uuid4()), 2, label="x" * (10 * 1024 * 1024))
    publish_raw(amqp, "ping.events", "ping_sent", json.dumps(huge).encode())
    publish_raw(amqp, "ping.events", "ping_sent", json.dumps(event_for(str(uuid.uuid4()), 3, label="always-fails")).encode())
    # And then a good message
    publish_raw(amqp, "ping.events", "ping_sent", json.dumps(event_for(good, 4)).encode())
    # Then the good one is applied and every poisoned one lands in the dead-letter queue with its reason
    assert_each_once(service_env["DATABASE_URL"], [good])
    letters: list[tuple[dict[str, Any], bytes]] = []
    eventually(lambda: letters.extend(dead_letters(amqp)) or len(letters) >= 5, timeout=30)
    reasons = sorted(headers["x-onetrip-reason"] for headers, _ in letters)
    assert len(letters) == 5, reasons
    assert any("undecodable" in r for r in reasons)
    assert sum("not an integration event" in r for r in reasons) == 2  # no version, no fields
    assert any("schema_version" in r for r in reasons)
    assert any("exceeds" in r for r in reasons)
    assert any("failed 5 deliveries" in r for r in reasons)
    assert all(headers["x-onetrip-queue"] == TALLY_QUEUE for headers, _ in letters)
    # And the consumer is still running
    assert tally.alive()


def test_a_reader_of_version_1_applies_a_version_2_event(
    processes: ProcessGroup, service_env: dict[str, str]
) -> None:
    # Given the consumer, written when ping_sent was at version 1
    processes.start(TALLY).wait_for_queue(TALLY_QUEUE)
    later = str(uuid.uuid4())
    # When the publisher has moved to version 2: a new form beside the old fields
    event = event_for(later, 1, schema_version=2)
    event["data"] = {**event["data"], "labels": {"zh": "公房装修", "en": "renovation"}}
    publish_raw(service_env["AMQP_URI"], "ping.events", "ping_sent", json.dumps(event).encode())
    # Then it reads what it knows of it, once, and nothing is dead-lettered
    assert_each_once(service_env["DATABASE_URL"], [later])
    assert dead_letters(service_env["AMQP_URI"]) == []


def test_no_event_is_lost_when_the_relays_broker_connection_is_cut(
    processes: ProcessGroup, service_env: dict[str, str], pings: PingApplication
) -> None:
    # Given the producer reaches the broker through a proxy that can cut its connections
    broker = urlsplit(service_env["AMQP_URI"])
    proxy = CuttableProxy(broker.hostname or "127.0.0.1", broker.port or 5672)
    via_proxy = urlunsplit(broker._replace(netloc=f"{broker.username}:{broker.password}@127.0.0.1:{proxy.port}"))
    try:
        processes.start(TALLY).wait_for_queue(TALLY_QUEUE)
        ping = processes.start(PING, AMQP_URI=via_proxy).wait_for_queue(PING_QUEUE)
        # When events are saved while the connection is cut again and again
        ids: list[str] = []
        for burst in range(6):
            ids += pings.send([f"第{burst}批-{i}" for i in range(40)], actor="teacher1")
            time.sleep(0.05)
            proxy.cut()
        # Then the relay reconnects and catches up: every event is applied exactly once
        assert_each_once(service_env["DATABASE_URL"], ids)
        assert proxy.cuts == 6
        assert "relay ping: " in ping.log() and "reconnecting" in ping.log()
    finally:
        proxy.close()


def test_no_event_is_lost_when_postgres_drops_the_relays_listen_connection(
    processes: ProcessGroup, service_env: dict[str, str], pings: PingApplication
) -> None:
    # Given a running relay listening for notifications
    processes.start(TALLY).wait_for_queue(TALLY_QUEUE)
    ping = processes.start(PING).wait_for_queue(PING_QUEUE)
    first = pings.send(["before"], actor="teacher1")
    eventually(lambda: all_tallied_once(service_env["DATABASE_URL"], first))
    # When PostgreSQL terminates its LISTEN connection
    with psycopg.connect(service_env["DATABASE_URL"], autocommit=True) as conn:
        killed = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name LIKE 'onetrip-relay-ping-%' AND datname = current_database()"
        ).fetchall()
    assert killed == [(True,)]
    # Then events saved afterwards still arrive, exactly once
    later = pings.send(["after-1", "after-2"], actor="teacher1")
    assert_each_once(service_env["DATABASE_URL"], first + later)
    assert "reconnecting" in ping.log()


def relay_leaders(database_url: str) -> list[str]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.granted AND a.application_name LIKE 'onetrip-relay-ping-%' "
            "AND a.datname = current_database()"
        ).fetchall()
    return [row[0] for row in rows]


def test_two_instances_run_one_relay_and_publish_each_event_once_in_order(
    processes: ProcessGroup, service_env: dict[str, str], pings: PingApplication, observer: Observer
) -> None:
    # Given two instances of the same service
    first = processes.start(PING, label="ping-a").wait_for_queue(PING_QUEUE)
    second = processes.start(PING, label="ping-b")
    eventually(lambda: len(relay_leaders(service_env["DATABASE_URL"])) == 1 and second.alive())
    time.sleep(1.0)
    assert len(relay_leaders(service_env["DATABASE_URL"])) == 1
    # When 60 events are saved
    ids = pings.send([f"事项{i}" for i in range(60)], actor="teacher1")
    # Then each is published once, in notification order
    received: list[dict[str, Any]] = []
    eventually(lambda: received.extend(observer.drain()) or len(received) >= 60)
    time.sleep(1.0)
    received.extend(observer.drain())
    assert [m["aggregate_id"] for m in received] == ids
    positions = [m["notification_id"] for m in received]
    assert positions == sorted(positions)
    # And when the active one dies, the other takes over
    leader_pid = int(relay_leaders(service_env["DATABASE_URL"])[0].rsplit("-", 1)[1])
    active, standby = (first, second) if first.proc and first.proc.pid == leader_pid else (second, first)
    active.kill()
    more = pings.send(["接管后"], actor="teacher1")
    eventually(lambda: [m["aggregate_id"] for m in observer.drain()] == more, timeout=30)
    assert standby.alive()


def test_a_dead_letter_replayed_after_the_fault_is_fixed_is_applied_once(
    processes: ProcessGroup, service_env: dict[str, str], tmp_path: Any
) -> None:
    # Given a consumer whose dependency is down
    flag = tmp_path / "dependency-down"
    flag.write_text("down")
    processes.start(TALLY, TALLY_FAIL_FLAG=str(flag)).wait_for_queue(TALLY_QUEUE)
    amqp = service_env["AMQP_URI"]
    ping_id = str(uuid.uuid4())
    publish_raw(amqp, "ping.events", "ping_sent",
                json.dumps(event_for(ping_id, 7, label="fails-while-flagged")).encode())
    # When it has failed its bounded tries it waits in the dead-letter queue
    from shared.deadletters import dead_letters as waiting

    eventually(lambda: [d["reason"] for d in waiting(amqp)] == ["failed 5 deliveries"], timeout=60)
    assert tallies(service_env["DATABASE_URL"]) == Counter()
    # And when the fault is fixed and the operator replays the dead letters
    flag.unlink()
    assert replay(amqp) == 1
    # Then it is applied exactly once and the dead-letter queue is empty
    assert_each_once(service_env["DATABASE_URL"], [ping_id])
    assert waiting(amqp) == []


def relay_position(database_url: str) -> int:
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute("SELECT max(notification_id) FROM ping.relay_position").fetchone()
    return int(row[0] or 0) if row else 0


def test_events_the_broker_refuses_are_published_again_until_it_accepts_them(
    processes: ProcessGroup, service_env: dict[str, str], pings: PingApplication
) -> None:
    # Given a queue bound to the ping events that refuses what it has no room for (a full
    # queue with reject-publish: the broker nacks those publishes)
    full = Queue(
        "test-full", exchange=Exchange("ping.events", type="topic", durable=True), routing_key="#",
        durable=True, queue_arguments={"x-max-length": 1, "x-overflow": "reject-publish"},
    )
    with Connection(service_env["AMQP_URI"]) as conn:
        full(conn.channel()).declare()
    processes.start(TALLY).wait_for_queue(TALLY_QUEUE)
    ping = processes.start(PING).wait_for_queue(PING_QUEUE)

    # When three events are saved
    ids = pings.send(["一", "二", "三"], actor="teacher1")
    last = pings.recorder.max_notification_id()

    # Then the relay sees the refusal and does not move its position past the refused events
    eventually(lambda: "refused" in ping.log(), timeout=30)
    time.sleep(1)
    assert relay_position(service_env["DATABASE_URL"]) < last

    # When the full queue goes away
    with Connection(service_env["AMQP_URI"]) as conn:
        full(conn.channel()).delete()

    # Then the relay publishes them again, moves on, and each is applied exactly once
    eventually(lambda: relay_position(service_env["DATABASE_URL"]) == last, timeout=30)
    assert_each_once(service_env["DATABASE_URL"], ids)
