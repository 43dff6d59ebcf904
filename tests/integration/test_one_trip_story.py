"""最多跑一趟, the whole way: every service running, driven only through the public HTTP API.

李老师 applies for 公房装修改造申请, is told at once what is missing, is returned once by 保卫处,
is approved, gets the SMS, rates the service badly; the discipline office replays the case
as it stood at the return, verifies the ledger and holds 国资处 to account.
"""
from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.support.bus_tap import BusTap
from tests.support.contract import problems, undeclared
from tests.support.gateway import Api, free_port, start_gateway
from tests.support.hall import ITEM, PARALLEL, PDF, PNG, upload
from tests.support.metrics import labelled, scrape, total
from tests.support.notify import (
    TEACHER1_PHONE,
    Mailbox,
    SmsGateway,
    start_notify,
)
from tests.support.processes import ProcessGroup, eventually

pytestmark = pytest.mark.integration


@pytest.fixture
def metrics_ports() -> dict[str, int]:
    """Where each service serves its metrics (ONETRIP_METRICS_PORT); the gateway's are at
    GET /metrics."""
    return {service: free_port() for service in ("catalogue", "approval", "audit", "notify")}


@pytest.fixture
def everything(
    processes: ProcessGroup, notify_env: dict[str, str], metrics_ports: dict[str, int]
) -> Api:
    def watched(service: str) -> dict[str, str]:
        # as operators run it: JSON log lines, metrics on a port of its own
        return {"ONETRIP_METRICS_PORT": str(metrics_ports[service]), "ONETRIP_LOG_FORMAT": "json"}

    processes.start("catalogue", **watched("catalogue")).wait_for_queue("rpc-catalogue")
    processes.start("approval", **watched("approval")).wait_for_queue("rpc-approval")
    processes.start("audit", **watched("audit")).wait_for_queue("rpc-audit")
    gateway, api = start_gateway(processes, ONETRIP_LOG_FORMAT="json")
    gateway.wait_for_queue("rpc-gateway")
    start_notify(processes, **watched("notify"))
    return api


def apply_when_item_known(
    teacher: Api, body: dict[str, Any], headers: dict[str, str] | None = None
) -> dict[str, Any]:
    def submitted() -> dict[str, Any]:
        reply = teacher.post("/api/v1/cases", json=body, headers=headers)
        assert reply.status_code == 201, reply.text  # 422 until approval learnt the item
        assert headers is None or reply.headers["X-Request-Id"] == TRACE
        return dict(reply.json())

    return dict(eventually(submitted, timeout=30, interval=0.5))


def decide(approver: Api, case_id: str, decision: str, comment: str = "") -> dict[str, Any]:
    task = next(t for t in approver.get("/api/v1/tasks").json()["tasks"] if t["case_id"] == case_id)
    reply = approver.post(f"/api/v1/tasks/{task['task_id']}/decision",
                          json={"decision": decision, "comment": comment})
    assert reply.status_code == 200, reply.text
    return dict(reply.json())


def texts(user: Api, channel: str) -> list[str]:
    return [n["text"] for n in user.get("/api/v1/notifications").json()["notifications"]
            if n["channel"] == channel]


@pytest.fixture
def bus_tap(everything: Api, service_env: dict[str, str]) -> Iterator[BusTap]:
    tap = BusTap(service_env["AMQP_URI"])
    yield tap
    tap.close()


def test_one_trip_from_application_to_accountability(
    everything: Api, sms: SmsGateway, bus_tap: BusTap, metrics_ports: dict[str, int],
    processes: ProcessGroup,
) -> None:
    hall = everything
    watch = Figures(hall, metrics_ports)
    teacher, office = hall.as_user("teacher1"), hall.as_user("discipline")
    approvers = {code: hall.as_user(code) for code in PARALLEL + ["cwc"]}
    # Given 李老师 applies with the design drawing missing (her request followed by a trace id)
    before = upload(teacher, "改造前结构图.png", PNG)
    case = apply_when_item_known(teacher, {"item_id": ITEM, "form": {"房间": "航空楼 301"},
                                           "materials": {"改造前结构图": before}},
                                 headers={"traceparent": f"00-{TRACE}-00f067aa0ba902b7-01"})
    case_id = case["case_id"]
    assert case["missing_materials"] == ["本次结构设计图"]
    # Then she is told at once, in one message, what is missing
    eventually(lambda: any("本次结构设计图" in t for t in texts(teacher, "sms")), timeout=30)
    # When she completes it, 国资处 records that she came once, and 保卫处 returns it
    design = upload(teacher, "本次结构设计图.pdf", PDF)
    teacher.post(f"/api/v1/cases/{case_id}/resubmit", json={"materials": {"本次结构设计图": design}})
    trip = approvers["gzc"].post(f"/api/v1/cases/{case_id}/trips", json={"purpose": "现场核对房间"})
    assert trip.status_code == 201, trip.text
    for code in ["gzc", "jjc", "xxh", "hq", "bmc"]:
        decide(approvers[code], case_id, "approve")
    decide(approvers["bwc"], case_id, "return", "请补充消防通道示意图")
    time.sleep(1.0)
    at_the_return = datetime.now(UTC).isoformat()
    time.sleep(1.0)
    # Then she hears 保卫处's comment
    eventually(lambda: any("请补充消防通道示意图" in t for t in texts(teacher, "sms")), timeout=30)
    # When she resubmits and every department approves
    teacher.post(f"/api/v1/cases/{case_id}/resubmit", json={})
    for code in PARALLEL + ["cwc"]:
        case = decide(approvers[code], case_id, "approve")
    assert case["status"] == "approved"
    # Then an SMS says 办理成功 with the case id, through the real SMS gateway
    eventually(lambda: any("办理成功" in m["text"] and case_id[:8] in m["text"]
                           for m in sms.messages(TEACHER1_PHONE)), timeout=30)
    assert any("办理成功" in t for t in texts(teacher, "inbox"))
    # When she rates it badly
    rated = teacher.post(f"/api/v1/cases/{case_id}/rating", json={"score": 1, "comment": "来回跑了两趟"})
    assert rated.status_code == 201, rated.text
    assert teacher.post(f"/api/v1/cases/{case_id}/rating", json={"score": 5, "comment": ""}).status_code == 409
    # Then the discipline office replays the case as it stood at the return
    replay = eventually(lambda: _replayed(office, case_id, at_the_return), timeout=30)
    assert replay["state"]["status"] == "returned"
    assert any(c["comment"] == "请补充消防通道示意图" for c in replay["state"]["return_comments"])
    # And the whole history, now, is the approved case, on an intact chain
    now = eventually(lambda: _replayed(office, case_id, None, status="approved"), timeout=30)
    assert [e["seq"] for e in now["events"]] == sorted(e["seq"] for e in now["events"])
    verified = office.get("/api/v1/audit/verify").json()
    assert verified["ok"] is True and verified["first_bad_seq"] is None and verified["entries"] > 20
    # And the bad review opens a rectification for 国资处, the lead department
    rating = eventually(lambda: _rating(office, case_id), timeout=30)
    assert rating["department"] == "gzc" and rating["rectification"]["status"] == "awaiting"
    gzc = approvers["gzc"]
    assert gzc.post(f"/api/v1/supervision/ratings/{rating['rating_id']}/rectification",
                    json={"action": "start"}).status_code == 200
    done = gzc.post(f"/api/v1/supervision/ratings/{rating['rating_id']}/rectification",
                    json={"action": "complete", "text": "已简化现场核对,改为线上提交照片"})
    assert done.status_code == 200 and done.json()["rectification"]["status"] == "done"
    assert approvers["jjc"].post(f"/api/v1/supervision/ratings/{rating['rating_id']}/rectification",
                                 json={"action": "rule_invalid", "text": "x"}).status_code == 403
    # And the figures show 国资处's case, its trip and its bad review
    figures = {d["department"]: d for d in office.get("/api/v1/supervision/departments").json()["departments"]}
    assert figures["gzc"]["cases"] >= 1 and figures["gzc"]["bad_reviews"] == 1
    assert figures["gzc"]["trips_per_case"] > 0
    # And an experience check is recorded beside the promised trips
    check = office.post("/api/v1/supervision/checks", json={
        "item_id": ITEM, "checker": "张同学", "trips": 1, "minutes": 40, "findings": "需现场核对一次"})
    assert check.status_code == 201, check.text
    report = office.get("/api/v1/supervision/report.xlsx")
    assert report.status_code == 200 and report.content.startswith(b"PK")
    # And nobody else may replay cases
    assert teacher.get(f"/api/v1/audit/cases/{case_id}").status_code == 403
    # And every event another campus system saw on the bus matches the published contract
    eventually(lambda: "experience_check_recorded" in bus_tap.types(), timeout=30)
    contract = hall.get("/api/v1/asyncapi.json").json()
    seen = list(bus_tap.events)
    assert {"case_submitted", "node_decided", "case_returned", "case_approved", "trip_recorded",
            "case_rated", "rectification_opened"} <= {event["type"] for event in seen}
    assert [problem for event in seen for problem in problems(contract, event)] == []
    assert [field for event in seen for field in undeclared(event)] == []
    # And her request's trace id travelled through the RPC into the events it caused, and into
    # the approval service's JSON log lines
    caused = [e for e in seen if e.get("correlation_id") == TRACE]
    assert [e["type"] for e in caused][:2] == ["case_submitted", "case_intake_rejected"]
    assert all(e["aggregate_id"] == caused[0]["aggregate_id"] for e in caused)
    approval_log = next(p for p in processes.processes if p.label == "approval").log()
    lines = [json.loads(line) for line in approval_log.splitlines() if line.startswith("{")]
    assert lines and all({"at", "level", "logger", "message"} <= set(line) for line in lines)
    # And what operators watch moved with the story
    watch.assert_moved()


TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


class Figures:
    """The metrics every process serves, scraped before and after the story."""

    def __init__(self, hall: Api, ports: dict[str, int]) -> None:
        self.urls = {"gateway": hall.base_url + "/metrics",
                     **{s: f"http://127.0.0.1:{port}/metrics" for s, port in ports.items()}}
        self.before = {service: scrape(url) for service, url in self.urls.items()}

    def assert_moved(self) -> None:
        now = {service: scrape(url) for service, url in self.urls.items()}
        gained = {service: (now[service], self.before[service]) for service in now}

        def rose(service: str, name: str, **labels: str) -> float:
            after, before = gained[service]
            return total(after, name, **labels) - total(before, name, **labels)

        assert rose("gateway", "onetrip_http_request_seconds_count",
                    route="/api/v1/cases", method="POST", status="201") >= 1
        assert rose("approval", "onetrip_rpc_seconds_count", method="submit_case", outcome="ok") >= 1
        assert rose("approval", "onetrip_events_published_total", type="case_approved") == 1
        assert rose("audit", "onetrip_events_consumed_total", outcome="applied") >= 20
        assert rose("notify", "onetrip_notifications_total", channel="sms", outcome="sent") >= 3
        for service in ("approval", "audit", "notify", "catalogue"):
            lag = labelled(now[service], "onetrip_relay_lag")
            assert lag, f"{service} shows no relay lag"
            queues = {found["queue"] for found in labelled(now[service], "onetrip_queue_messages")}
            assert {f"rpc-{service}", "onetrip.dead-letter"} <= queues, queues
        office_verified = total(now["audit"], "onetrip_ledger_intact")
        assert office_verified == 1.0
        assert total(now["audit"], "onetrip_ledger_missing") == 0.0


def _replayed(office: Api, case_id: str, as_of: str | None, status: str | None = None) -> dict[str, Any]:
    reply = office.get(f"/api/v1/audit/cases/{case_id}", params={"as_of": as_of} if as_of else None)
    assert reply.status_code == 200, reply.text
    body = dict(reply.json())
    assert status is None or body["state"]["status"] == status
    return body


def _rating(office: Api, case_id: str) -> dict[str, Any]:
    ratings = office.get("/api/v1/supervision/ratings").json()["ratings"]
    return next(r for r in ratings if r["case_id"] == case_id)


__all__ = ["Mailbox"]
