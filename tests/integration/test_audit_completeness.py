"""The ledger cannot miss an event without saying so: what each relay published (its manifests)
is what the ledger must hold; verify names what it lacks — at once when a consumer of the
ledger dead-lettered it, after the grace period when it simply never came — and turns true
again once a replayed dead letter is appended. Duplicates and relay restarts are no loss."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from kombu import Connection

from services.audit.hall import AuditHall
from shared.caller import signed_cluster_rpc
from shared.contracts import IntegrationEvent
from shared.contracts.manifest import Manifest, ManifestEntry
from shared.topology import Subscription
from tests.support.bus import publish_raw
from tests.support.processes import ROOT, ProcessGroup, eventually, queue_consumers
from tests.unit.audit.support import RenovationStory, audit_application, renovation_story

pytestmark = pytest.mark.integration

CATALOGUE_TO_LEDGER = Subscription("catalogue", "*", "audit", "on_event").queue_name
APPROVAL_TO_LEDGER = Subscription("approval", "*", "audit", "on_event").queue_name
DEMO_EVENTS = 9  # three demo items drafted; two of them submitted, reviewed and published


def verify(amqp_uri: str) -> dict[str, Any]:
    with signed_cluster_rpc(amqp_uri, timeout=60) as rpc:
        return rpc.audit.verify()  # type: ignore[no-any-return]


def scalar(database_url: str, query: str) -> Any:
    with psycopg.connect(database_url) as conn:
        try:
            row = conn.execute(query).fetchone()
        except psycopg.errors.UndefinedTable:
            return None
    return row[0] if row else None


def ledger_entries(database_url: str) -> int:
    return int(scalar(database_url, "SELECT count(*) FROM audit.ledger") or 0)


def catalogue_manifested(database_url: str) -> bool:
    """The catalogue's relay has published the manifest of its whole log."""
    last = scalar(database_url, "SELECT max(notification_id) FROM catalogue.catalogue_events")
    manifested = scalar(database_url, "SELECT manifested_through FROM catalogue.relay_position")
    return last is not None and manifested == last


def replay_dead_letters(amqp_uri: str) -> str:
    """What the operator runs once the cause is fixed."""
    done = subprocess.run(
        [sys.executable, "-m", "shared.deadletters", "replay"],
        cwd=ROOT,
        env={"AMQP_URI": amqp_uri, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return done.stdout


def test_a_dead_lettered_event_is_missing_with_its_reason_until_replayed_and_appended(
    processes: ProcessGroup, service_env: dict[str, str], database_url: str
) -> None:
    amqp = service_env["AMQP_URI"]
    # Given an audit service with a defect: it cannot append item_published events
    defective = processes.start(
        "audit", ONETRIP_FAULT="audit_append:item_published", ONETRIP_DELIVERY_LIMIT="2"
    ).wait_for_queue(CATALOGUE_TO_LEDGER)

    # When the catalogue publishes its two demo items (公房装修改造申请 among them)
    processes.start("catalogue").wait_for_queue("rpc-catalogue")

    # Then verify says the ledger lacks both publications, and why: they were dead-lettered
    def both_missing() -> dict[str, Any]:
        result = verify(amqp)
        assert len(result["missing"]) == 2, result["missing"]
        return result

    result = eventually(both_missing, timeout=90, interval=0.5)
    assert result["ok"] is False
    assert (result["intact"], result["first_bad_seq"]) == (True, None)  # the chain is whole
    assert {(m["service"], m["type"]) for m in result["missing"]} == {
        ("catalogue", "item_published")
    }
    for missing in result["missing"]:
        assert "死信" in missing["reason"] and "等待重放" in missing["reason"]
        assert "故障注入：审计服务无法记入 item_published 事件" in missing["reason"]
    assert "2 个已发布的事件未记入账本" in result["reason"]
    # And the dead letters wait for replay, each naming its queue and reason
    assert [d["queue"] for d in result["dead_letters"]] == [CATALOGUE_TO_LEDGER] * 2
    assert {d["notification_id"] for d in result["dead_letters"]} == {
        m["notification_id"] for m in result["missing"]
    }
    assert all("AppendFaultError" in d["reason"] for d in result["dead_letters"])

    # When the defect is fixed and the operator replays the dead letters
    defective.stop()
    processes.start("audit").wait_for_queue(CATALOGUE_TO_LEDGER)
    assert "replayed 2 dead letters" in replay_dead_letters(amqp)

    # Then they are appended, verify is true again, and nothing waits
    def whole() -> dict[str, Any]:
        result = verify(amqp)
        assert (result["ok"], result["missing"], result["dead_letters"]) == (True, [], [])
        return result

    result = eventually(whole, timeout=60, interval=0.5)
    assert result["entries"] == DEMO_EVENTS


def test_an_event_that_never_reached_the_ledger_is_missing_after_the_grace_period(
    processes: ProcessGroup, service_env: dict[str, str], database_url: str
) -> None:
    amqp = service_env["AMQP_URI"]
    # Given the catalogue published its demo items, with their manifests, while the audit
    # service was not running (its queues were declared by the relay, so they wait)
    processes.start("catalogue").wait_for_queue("rpc-catalogue")
    eventually(lambda: catalogue_manifested(database_url), timeout=60)
    # And the first event was lost on its way to the ledger (taken off the audit's queue)
    with Connection(amqp) as conn:
        taken = Subscription("catalogue", "*", "audit", "on_event").queue()(conn.channel())
        lost = json.loads(taken.get(no_ack=True).body)

    # When the audit service starts, with a grace period of 2 seconds
    processes.start("audit", ONETRIP_AUDIT_GRACE_SECONDS="2").wait_for_queue("rpc-audit")

    # Then once the other events are in and the grace period is over, verify names the lost one
    def lost_named() -> dict[str, Any]:
        result = verify(amqp)
        assert result["missing"], result
        return result

    result = eventually(lost_named, timeout=60, interval=0.5)
    assert result["ok"] is False
    assert [(m["service"], m["notification_id"], m["type"]) for m in result["missing"]] == [
        ("catalogue", lost["notification_id"], lost["type"])
    ]
    assert "可能已丢失" in result["missing"][0]["reason"]
    assert result["entries"] == DEMO_EVENTS - 1
    assert result["dead_letters"] == []


def test_duplicates_and_a_restarted_relay_do_not_make_anything_missing(
    processes: ProcessGroup, service_env: dict[str, str], database_url: str
) -> None:
    amqp = service_env["AMQP_URI"]
    # Given two audit instances, with a grace period of one second
    for label in ("audit-1", "audit-2"):
        processes.start("audit", label=label, ONETRIP_AUDIT_GRACE_SECONDS="1")
    eventually(lambda: queue_consumers(amqp, CATALOGUE_TO_LEDGER) == 2, timeout=120)
    # And a catalogue whose relay dies after the broker confirmed a batch, before it stored
    # its position (and before any manifest)
    crashing = processes.start("catalogue", ONETRIP_FAULT="relay_after_confirm")
    assert crashing.wait_exit(120) == 17

    # When it starts again, publishes that batch a second time and then its manifests
    processes.start("catalogue").wait_for_queue("rpc-catalogue")
    eventually(lambda: catalogue_manifested(database_url), timeout=60)
    # And an event arrives once more (a duplicate on the bus)
    first = scalar(database_url, "SELECT event FROM audit.ledger ORDER BY seq LIMIT 1")
    publish_raw(amqp, "catalogue.events", json.loads(first)["type"], first.encode("utf-8"))

    # Then each event is in the ledger once
    eventually(lambda: ledger_entries(database_url) == DEMO_EVENTS, timeout=60)
    # And after the grace period nothing is missing
    time.sleep(2.5)
    result = verify(amqp)
    assert (result["ok"], result["missing"], result["entries"]) == (True, [], DEMO_EVENTS)
    assert ledger_entries(database_url) == DEMO_EVENTS


def test_an_event_audit_can_never_store_is_named_missing(
    processes: ProcessGroup, service_env: dict[str, str], database_url: str
) -> None:
    amqp = service_env["AMQP_URI"]
    processes.start("audit", ONETRIP_DELIVERY_LIMIT="2").wait_for_queue(APPROVAL_TO_LEDGER)
    # Given 李老师's renovation case is in the ledger
    story = renovation_story()
    for event in story.events[:3]:
        publish_raw(amqp, "approval.events", event.type, wire(event))
    eventually(lambda: ledger_entries(database_url) == 3, timeout=30)
    # When a case arrives whose form holds a NUL, which PostgreSQL text cannot hold
    submitted = story.events[0]
    poisoned = submitted.model_copy(
        update={
            "notification_id": 90_001,
            "aggregate_id": "5d8f3c2e-0000-4000-8000-000000000001",
            "data": {**submitted.data, "case_id": "case-nul", "form": {"事由": "装修\u0000"}},
        }
    )
    publish_raw(amqp, "approval.events", poisoned.type, wire(poisoned))

    # Then verify does not answer ok: it names the event and why it is not in the ledger
    def named() -> dict[str, Any]:
        result = verify(amqp)
        assert result["missing"], result
        return result

    result = eventually(named, timeout=60, interval=0.5)
    assert result["ok"] is False and result["entries"] == 3
    assert [(m["service"], m["notification_id"]) for m in result["missing"]] == [
        ("approval", 90_001)
    ]
    assert "已转入死信队列" in result["missing"][0]["reason"]
    assert result["dead_letters"][0]["queue"] == APPROVAL_TO_LEDGER


def test_an_event_breaking_its_contract_is_refused_by_every_consumer_and_shown_missing(
    processes: ProcessGroup, service_env: dict[str, str], database_url: str
) -> None:
    amqp = service_env["AMQP_URI"]
    processes.start("audit").wait_for_queue(CATALOGUE_TO_LEDGER)
    approval = Subscription("catalogue", "item_published", "approval", "on_item_published")
    processes.start("approval").wait_for_queue(approval.queue_name)
    # When a campus system publishes an item_published whose item approval cannot learn
    broken = IntegrationEvent.build(
        type="item_published",
        service="catalogue",
        aggregate_id="gongfang-zhuangxiu",
        aggregate_version=9,
        notification_id=4_242,
        occurred_at=datetime.now(UTC),
        actor="party",
        data={"item_id": "gongfang-zhuangxiu", "name": "公房装修改造申请"},
    )
    publish_raw(amqp, "catalogue.events", broken.type, wire(broken))

    # Then no consumer applies half of it: each dead-letters it at once, since its data breaks the
    # catalogue's contract (the gate, shared.messaging); the ledger stays intact and names it
    # missing, and approval's dead letter is shown beside the ledger's own
    def shown() -> dict[str, Any]:
        result = verify(amqp)
        assert len(result["dead_letters"]) == 2 and result["missing"], result
        return result

    result = eventually(shown, timeout=60, interval=0.5)
    assert (result["ok"], result["intact"], result["entries"]) == (False, True, 0)
    assert [(m["service"], m["notification_id"]) for m in result["missing"]] == [("catalogue", 4_242)]
    letter = next(d for d in result["dead_letters"] if d["consumer"] == "approval")
    assert letter["queue"] == approval.queue_name
    assert (letter["service"], letter["notification_id"], letter["type"]) == (
        "catalogue",
        4_242,
        "item_published",
    )
    assert "breaks its contract" in letter["reason"]


def wire(event: IntegrationEvent) -> bytes:
    return json.dumps(event.to_wire(), ensure_ascii=False).encode("utf-8")


# -- the rule, on the application alone ------------------------------------------------------


@pytest.fixture
def audit(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[AuditHall]:
    monkeypatch.setenv("ONETRIP_AUDIT_GRACE_SECONDS", "0")
    with audit_application(database_url, tmp_path / "audit-checkpoint.json") as app:
        yield app


def manifest(events: list[IntegrationEvent], after: int, through: int) -> Manifest:
    return Manifest(
        service="approval",
        application="approval",
        after=after,
        through=through,
        published_at=datetime.now(UTC),
        events=[
            ManifestEntry(notification_id=e.notification_id, event_id=e.event_id, type=e.type)
            for e in events
        ],
    )


@pytest.fixture
def story() -> RenovationStory:
    return renovation_story()


def test_a_ledger_from_before_manifests_misses_nothing_and_only_announced_events_are_expected(
    audit: AuditHall, story: RenovationStory
) -> None:
    # Given the first ten events of 李老师's case were appended before relays sent manifests
    for event in story.events[:10]:
        audit.consume(event)
    assert audit.ledger.verify()["ok"] is True
    # When the relay's manifest announces the rest (read twice, as a restarted relay sends it)
    announced = story.events[10:]
    stretch = manifest(announced, story.events[9].notification_id, announced[-1].notification_id)
    audit.ledger.record_manifest(stretch)
    audit.ledger.record_manifest(stretch)
    # And all but the last arrive
    for event in announced[:-1]:
        audit.consume(event)

    # Then only the last is missing (the grace period is 0 here)
    result = audit.ledger.verify()
    assert result["ok"] is False
    assert [m["notification_id"] for m in result["missing"]] == [announced[-1].notification_id]
    # When it arrives, nothing is missing, and the expectations kept are pruned
    audit.consume(announced[-1])
    assert audit.ledger.verify()["ok"] is True
    assert audit.ledger.prune_expected() == len(announced)


def test_a_stretch_of_the_log_no_manifest_covered_is_reported(
    audit: AuditHall, story: RenovationStory
) -> None:
    # Given manifests for notifications (0, 5] and (9, 12] arrived, but none for (5, 9]
    events = {event.notification_id: event for event in story.events}
    for after, through in ((0, 5), (9, 12)):
        listed = [events[n] for n in range(after + 1, through + 1) if n in events]
        audit.ledger.record_manifest(manifest(listed, after, through))
        for event in listed:
            audit.consume(event)
    # Then verify says the manifest for 6 to 9 never came
    result = audit.ledger.verify()
    assert result["ok"] is False
    [gap] = result["missing"]
    assert (gap["service"], gap["notification_id"]) == ("approval", 6)
    assert "第 6–9 号通知没有收到发布清单" in gap["reason"]
    # When it comes at last, the stretches join and nothing is missing
    listed = [events[n] for n in range(6, 10) if n in events]
    audit.ledger.record_manifest(manifest(listed, 5, 9))
    for event in listed:
        audit.consume(event)
    assert audit.ledger.verify()["missing"] == []
