"""Versions of the event contract: a reader written for version 1 reads a version 2 event.

The rule (docs/integration.md, "Versions"): an additive change keeps ``schema_version``; a
breaking change adds the new form beside the old fields and raises ``schema_version``; the old
fields go only with a new event type. So every reader reads every later version of the types
it knows, and ignores what it does not know."""
from __future__ import annotations

from typing import Any

from shared import asyncapi, casefold
from shared.contracts.case_events import CaseSubmitted, NodeDecided, case_event
from shared.messaging import parse_event
from tests.support.contract import problems


def envelope(event_type: str, data: dict[str, Any], schema_version: int) -> dict[str, Any]:
    return {
        "event_id": "0f8f6c1e-9a49-5b8e-8c7a-3d0d2b1c4a5e", "type": event_type,
        "schema_version": schema_version, "occurred_at": "2026-09-01T09:30:00+08:00",
        "service": "approval", "aggregate_id": "6a1d3f70-2b8e-5c41-9f0a-7e5d4c3b2a19",
        "aggregate_version": 9, "notification_id": 42, "actor": "bwc1", "data": data,
    }


def example(service: str, event_type: str) -> dict[str, Any]:
    message = asyncapi.document()["components"]["messages"][f"{service}.{event_type}"]
    return dict(message["examples"][0]["payload"]["data"])


def decided_v2() -> dict[str, Any]:
    """node_decided as a version 2 might publish it: who decided, as a person, beside the
    version 1 username; and a field no reader knows yet."""
    data = example("approval", "node_decided")
    data.update(decided_by_person={"username": data["decided_by"], "name": "王处长"},
                signature_sha256="ab" * 32)
    return data


def test_a_version_1_reader_takes_a_version_2_event_at_the_door() -> None:
    event = parse_event(envelope("node_decided", decided_v2(), 2), "approval")
    assert event.schema_version == 2
    read = case_event(event.type, event.data)
    assert isinstance(read, NodeDecided) and read.decided_by == decided_v2()["decided_by"]
    assert not hasattr(read, "signature_sha256")


def test_the_shared_fold_applies_it_as_version_1() -> None:
    submitted = example("approval", "case_submitted")
    case = casefold.apply(None, case_event("case_submitted", submitted), "teacher1")
    node = submitted["flow"]["stages"][0]["nodes"][0]
    decided = {**decided_v2(), "case_id": submitted["case_id"], "node_id": node["node_id"]}
    after = casefold.apply(case, case_event("node_decided", decided), "bwc1")
    assert isinstance(case_event("case_submitted", submitted), CaseSubmitted)
    found = casefold.find_node(after, node["node_id"])
    assert found is not None
    assert found["state"] == casefold.DECIDED_STATES[decided["decision"]]
    assert casefold.find_node(case, node["node_id"])["state"] == "waiting"  # type: ignore[index]


def test_the_published_schema_admits_it() -> None:
    document = asyncapi.document()
    assert problems(document, envelope("node_decided", decided_v2(), 2)) == []
    # while a version 2 that drops a version 1 field is refused by the published schema
    broken = decided_v2()
    del broken["decided_by"]
    assert problems(document, envelope("node_decided", broken, 2))
