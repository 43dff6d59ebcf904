"""The same gate at the services' own doors: an RPC argument or an event no store can hold, or an
event whose data breaks its contract, is refused before a worker runs — a named error to the
caller, a dead letter with its reason — never half applied, never retried into the void."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from nameko.exceptions import RemoteError

from shared.caller import signed_cluster_rpc
from shared.contracts import IntegrationEvent
from tests.support.bus import dead_letters, publish_raw
from tests.support.notify import build
from tests.support.processes import ProcessGroup, eventually
from tests.unit.audit.support import item_published

pytestmark = pytest.mark.integration

NUL = "\u0000"
TEACHER = {"username": "teacher1", "name": "李老师", "department": "hkxy", "roles": ["applicant"]}
AUDIT_QUEUE = "evt-approval-all--audit.on_event"


def refusal(call: Any) -> RemoteError:
    with pytest.raises(RemoteError) as refused:
        call()
    return refused.value


def deep(levels: int) -> Any:
    value: Any = "隔断"
    for _ in range(levels):
        value = [value]
    return value


def test_rpc_arguments_no_store_can_hold_are_refused_before_a_worker_runs(
    processes: ProcessGroup, service_env: dict[str, str]
) -> None:
    # Given the approval and catalogue services on the bus
    processes.start("catalogue").wait_for_queue("rpc-catalogue")
    processes.start("approval").wait_for_queue("rpc-approval")
    with signed_cluster_rpc(service_env["AMQP_URI"], actor=TEACHER, timeout=30) as rpc:
        # When a caller on the bus, signed as the gateway for 李老师, submits a form holding NUL, or nested 100 deep
        for form in ({"房间": f"航空楼{NUL}301"}, {"房间": deep(100)}):
            submission = {"item_id": "gongfang-zhuangxiu", "form": form}
            refused = refusal(lambda s=submission: rpc.approval.submit_case(TEACHER, s, []))
            # Then the named error comes back, in Chinese, and nothing is filed
            assert refused.exc_type == "InvalidError"
            assert "submit_case 的参数不合法" in refused.value
        # And a search for a lone surrogate or NUL is refused the same way
        for text in ("\ud800", f"装修{NUL}"):
            refused = refusal(lambda t=text: rpc.catalogue.search_items(q=t))
            assert refused.exc_type == "InvalidError"
        assert rpc.approval.case_page(TEACHER, None, 0)["total"] == 0
        assert rpc.catalogue.search_items(q="装修")[0]["item_id"] == "gongfang-zhuangxiu"


def publish(amqp_uri: str, event: IntegrationEvent | dict[str, Any], routing_key: str) -> None:
    wire = event.to_wire() if isinstance(event, IntegrationEvent) else event
    exchange = f"{wire['service']}.events"
    publish_raw(amqp_uri, exchange, routing_key, json.dumps(wire, ensure_ascii=False).encode())


def ledger_types(database_url: str) -> list[str]:
    with psycopg.connect(database_url) as conn:
        if conn.execute("SELECT to_regclass('audit.ledger')").fetchone() == (None,):
            return []
        rows = conn.execute("SELECT (event::jsonb)->>'type' FROM audit.ledger ORDER BY seq").fetchall()
    return [row[0] for row in rows]


def collect_dead_letters(amqp_uri: str, found: list[dict[str, Any]], count: int) -> bool:
    found.extend(headers for headers, _ in dead_letters(amqp_uri))
    return len(found) >= count


def intake_rejected(case_id: str, **data: Any) -> dict[str, Any]:
    event = build("case_intake_rejected", case_id, 1, "teacher1", round=1,
                  missing_materials=["改造前结构图"])
    wire = event.to_wire()
    wire["data"].update(data)
    return wire


def test_events_no_store_can_hold_or_breaking_their_contract_are_dead_lettered_at_once(
    processes: ProcessGroup, service_env: dict[str, str], database_url: str, tmp_path: Path
) -> None:
    # Given the audit service keeping the ledger of every approval event
    processes.start("audit", ONETRIP_AUDIT_CHECKPOINT=str(tmp_path / "cp.json")).wait_for_queue(
        AUDIT_QUEUE
    )
    amqp = service_env["AMQP_URI"]
    started = datetime.now(UTC)
    # When a campus system publishes a case whose data holds NUL, one nested 40 deep,
    # one whose data misses what its contract promises, and one with a NUL in the envelope
    bad = [
        intake_rejected(str(uuid.uuid4()), missing_materials=[f"改造前结构图{NUL}"]),
        intake_rejected(str(uuid.uuid4()), missing_materials=[deep(40)]),
        {**intake_rejected(str(uuid.uuid4())), "data": {"case_id": "only-this"}},
        {**intake_rejected(str(uuid.uuid4())), "actor": f"teacher1{NUL}"},
    ]
    for wire in bad:
        publish(amqp, wire, "case_intake_rejected")
    # And then a good one
    good = intake_rejected(str(uuid.uuid4()))
    publish(amqp, good, "case_intake_rejected")

    # Then each bad one is dead-lettered at once, saying why, and the good one is in the ledger
    found: list[dict[str, Any]] = []
    eventually(lambda: collect_dead_letters(amqp, found, len(bad)), timeout=60, interval=0.5)
    reasons = [headers["x-onetrip-reason"] for headers in found]
    assert all(headers["x-onetrip-queue"] == AUDIT_QUEUE for headers in found)
    assert sum("unstorable event" in reason for reason in reasons) == 3, reasons
    assert sum("breaks its contract" in reason for reason in reasons) == 1, reasons
    assert (datetime.now(UTC) - started).total_seconds() < 15  # not after five failed deliveries
    eventually(lambda: ledger_types(database_url) == ["case_intake_rejected"], timeout=30)
    # And the ledger stays intact, naming each refused event as missing, with the reason
    with signed_cluster_rpc(amqp, timeout=30) as rpc:
        verified = rpc.audit.verify()
    assert (verified["ok"], verified["intact"], verified["entries"]) == (False, True, 1)
    missing = {entry["event_id"]: entry["reason"] for entry in verified["missing"]}
    assert set(missing) == {wire["event_id"] for wire in bad}
    assert all("unstorable event" in r or "breaks its contract" in r for r in missing.values())


def test_an_item_publication_breaking_its_contract_is_not_learnt(
    processes: ProcessGroup, service_env: dict[str, str]
) -> None:
    # Given the approval service learning items from the catalogue's exchange
    processes.start("approval").wait_for_queue("evt-catalogue-item_published--approval.on_item_published")
    amqp = service_env["AMQP_URI"]
    # When an item_published arrives without the description and contacts its contract promises
    broken = item_published("qiangjian-fangwu", "gzc", 0, "online", 1).to_wire()
    del broken["data"]["description"], broken["data"]["contacts"]
    publish(amqp, broken, "item_published")
    # Then it is dead-lettered at once with the contract named, and nobody can apply for it
    found: list[dict[str, Any]] = []
    eventually(lambda: collect_dead_letters(amqp, found, 1), timeout=30, interval=0.5)
    assert "catalogue.item_published data breaks its contract" in found[0]["x-onetrip-reason"]
    with signed_cluster_rpc(amqp, actor=TEACHER, timeout=30) as rpc:
        refused = refusal(lambda: rpc.approval.submit_case(TEACHER, {"item_id": "qiangjian-fangwu"}, []))
    assert refused.exc_type == "InvalidError" and "qiangjian-fangwu" in refused.value
