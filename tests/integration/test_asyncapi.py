"""The event contract, published: ``GET /api/v1/asyncapi.json`` is a valid AsyncAPI 3.0 document
by the AsyncAPI project's own parser, names every event each service declares, and its examples
are instances of their own schemas. That every event of the seed's story matches it is checked
by the story itself (``test_one_trip_story``)."""
from __future__ import annotations

import copy
from pathlib import Path

import pytest

from shared.contracts import EVENT_DATA
from tests.support.contract import parse, problems
from tests.support.gateway import Api

pytestmark = pytest.mark.integration


def test_the_gateway_serves_an_asyncapi_document_the_parser_accepts(
    hall: Api, tmp_path: Path
) -> None:
    reply = hall.get("/api/v1/asyncapi.json")
    assert reply.status_code == 200, reply.text
    document = reply.json()
    assert document["asyncapi"].startswith("3.0")
    code, diagnostics = parse(document, tmp_path)
    serious = [d for d in diagnostics if d.get("severity") in ("error", "warning")]
    assert code == 0 and not serious, diagnostics
    declared = sum(len(events) for events in EVENT_DATA.values())
    assert diagnostics[-1] == {"parsed": True, "channels": declared, "messages": declared}
    # Every declared event has its channel on its service's exchange, routing key = its type
    for service, events in EVENT_DATA.items():
        for event_type in events:
            channel = document["channels"][f"{service}.{event_type}"]
            assert channel["address"] == event_type
            assert channel["bindings"]["amqp"]["exchange"]["name"] == f"{service}.events"
    # The broker is named without credentials
    assert "@" not in document["servers"]["campus"]["host"]


def test_the_parser_refuses_a_broken_document(hall: Api, tmp_path: Path) -> None:
    document = hall.get("/api/v1/asyncapi.json").json()
    broken = copy.deepcopy(document)
    broken["operations"]["approval.node_opened.publish"]["channel"] = {"$ref": "#/channels/nope"}
    code, diagnostics = parse(broken, tmp_path)
    assert code != 0 or any(d.get("severity") == "error" for d in diagnostics), diagnostics


def test_every_example_is_an_instance_of_its_message(hall: Api) -> None:
    document = hall.get("/api/v1/asyncapi.json").json()
    for name, message in document["components"]["messages"].items():
        for example in message["examples"]:
            assert problems(document, example["payload"]) == [], name
    # and the check can fail: a wrong type in an example is named
    example = copy.deepcopy(document["components"]["messages"]["approval.node_opened"]
                            ["examples"][0]["payload"])
    example["data"]["round"] = "二"
    assert any("round" in problem for problem in problems(document, example))
