"""The audit service on the real bus: killed in the middle of a burst, restarted, and every
event is in the ledger exactly once, in a chain that verifies; replay and verify over RPC."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest
from kombu import Connection, Exchange

from shared.caller import signed_cluster_rpc
from shared.contracts import IntegrationEvent
from tests.support.bus import publish_raw
from tests.support.processes import ProcessGroup, eventually, queue_consumers
from tests.unit.audit.support import generated_history, item_published, renovation_story

pytestmark = pytest.mark.integration

APPROVAL_QUEUE = "evt-approval-all--audit.on_event"


def publish_all(amqp_uri: str, events: list[IntegrationEvent]) -> None:
    """What tests.support.bus.publish_raw does, over one connection for a burst."""
    exchange = Exchange("approval.events", type="topic", durable=True)
    with Connection(amqp_uri, transport_options={"confirm_publish": True}) as conn:
        producer = conn.Producer()
        for event in events:
            producer.publish(
                json.dumps(event.to_wire(), ensure_ascii=False).encode("utf-8"),
                exchange=exchange,
                routing_key=event.type,
                content_type="application/json",
                content_encoding="utf-8",
                delivery_mode=2,
            )


def ledger_count(database_url: str) -> int:
    with psycopg.connect(database_url) as conn:
        if conn.execute("SELECT to_regclass('audit.ledger')").fetchone() == (None,):
            return 0
        row = conn.execute("SELECT count(*) FROM audit.ledger").fetchone()
    return int(row[0]) if row else 0


def appended_event_ids(database_url: str) -> list[str]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT (event::jsonb)->>'event_id' FROM audit.ledger ORDER BY seq"
        ).fetchall()
    return [row[0] for row in rows]


def test_killed_mid_burst_and_restarted_every_event_is_in_the_ledger_once(
    processes: ProcessGroup, service_env: dict[str, str], database_url: str, tmp_path: Path
) -> None:
    checkpoint = str(tmp_path / "audit-checkpoint.json")
    audit = processes.start("audit", ONETRIP_AUDIT_CHECKPOINT=checkpoint).wait_for_queue(
        APPROVAL_QUEUE
    )
    # Given a burst of 1,000 approval events on the bus
    events = generated_history(130)[:1000]
    assert len(events) == 1000
    publish_all(service_env["AMQP_URI"], events)

    # When the audit service is killed while appending them
    eventually(lambda: ledger_count(database_url) >= 150, timeout=120)
    audit.kill()
    at_kill = ledger_count(database_url)
    assert at_kill < 1000

    # And started again
    processes.start("audit", ONETRIP_AUDIT_CHECKPOINT=checkpoint).wait_for_queue(APPROVAL_QUEUE)

    # Then every event is appended exactly once
    eventually(lambda: ledger_count(database_url) >= 1000, timeout=180, interval=0.5)
    ids = appended_event_ids(database_url)
    assert sorted(ids) == sorted(str(event.event_id) for event in events)
    assert len(set(ids)) == len(ids) == 1000

    # And the chain verifies over RPC
    with signed_cluster_rpc(service_env["AMQP_URI"], timeout=60) as rpc:
        result = rpc.audit.verify()
    assert (result["ok"], result["entries"], result["first_bad_seq"]) == (True, 1000, None)


def test_replay_and_verify_over_rpc_from_events_published_on_the_bus(
    processes: ProcessGroup, service_env: dict[str, str], database_url: str, tmp_path: Path
) -> None:
    processes.start("audit", ONETRIP_AUDIT_CHECKPOINT=str(tmp_path / "cp.json")).wait_for_queue(
        APPROVAL_QUEUE
    )
    # Given the seed story's events, each published as the approval relay would
    story = renovation_story()
    for event in story.events:
        body = json.dumps(event.to_wire(), ensure_ascii=False).encode("utf-8")
        publish_raw(service_env["AMQP_URI"], "approval.events", event.type, body)
    # And the catalogue's publication of the item, on its own exchange
    item = item_published("gongfang-zhuangxiu", "gzc", 0, "online", 1)
    body = json.dumps(item.to_wire(), ensure_ascii=False).encode("utf-8")
    publish_raw(service_env["AMQP_URI"], "catalogue.events", item.type, body)
    eventually(lambda: ledger_count(database_url) == len(story.events) + 1, timeout=60)

    with signed_cluster_rpc(service_env["AMQP_URI"], timeout=30) as rpc:
        # When an auditor replays the case between the return and the resubmission
        moment = story.returned_at + (story.resubmitted_at - story.returned_at) / 2
        replayed = rpc.audit.case_history(story.case_id, as_of=moment.isoformat())
        verified = rpc.audit.verify()
        departments = rpc.audit.departments()
        checks = rpc.audit.checks("gongfang-zhuangxiu")

    # Then the case is returned with 保卫处's comment, and the ledger verifies
    assert replayed["state"]["status"] == "returned"
    assert replayed["state"]["return_comments"][0]["department"] == "bwc"
    assert verified["ok"] is True and verified["entries"] == len(story.events) + 1
    assert checks["items"][0]["trips_promised"] == 0
    gzc = next(row for row in departments["departments"] if row["department"] == "gzc")
    assert (gzc["cases"], gzc["approved"], gzc["rating_avg"]) == (1, 1, 5.0)
    bwc = next(row for row in departments["departments"] if row["department"] == "bwc")
    assert bwc["returns"] == 1


def test_two_instances_appending_at_once_keep_one_linear_chain(
    processes: ProcessGroup, service_env: dict[str, str], database_url: str, tmp_path: Path
) -> None:
    # Given two audit instances sharing the queues and the ledger
    checkpoint = str(tmp_path / "audit-checkpoint.json")
    for label in ("audit-1", "audit-2"):
        processes.start("audit", label=label, ONETRIP_AUDIT_CHECKPOINT=checkpoint)
    eventually(lambda: queue_consumers(service_env["AMQP_URI"], APPROVAL_QUEUE) == 2, timeout=120)

    # When 400 events arrive at once
    events = generated_history(60, seed=13)[:400]
    publish_all(service_env["AMQP_URI"], events)

    # Then each is appended once, and the chain is one unbroken line
    eventually(lambda: ledger_count(database_url) >= 400, timeout=120, interval=0.5)
    ids = appended_event_ids(database_url)
    assert sorted(ids) == sorted(str(event.event_id) for event in events)
    with signed_cluster_rpc(service_env["AMQP_URI"], timeout=60) as rpc:
        result = rpc.audit.verify()
    assert (result["ok"], result["entries"]) == (True, 400)
