"""Helpers, not tests: real outside parties for the notify tests (the local SMS gateway process, an aiosmtpd server)."""
from __future__ import annotations

import email
import email.policy
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
import requests
from aiosmtpd.controller import Controller

from shared.caller import signed_cluster_rpc
from shared.contracts import IntegrationEvent
from tests.support.bus import publish_raw
from tests.support.gateway import free_port, start_gateway
from tests.support.processes import ROOT, ProcessGroup, ServiceProcess, eventually

CASE_ID = "5f0c1d9e-8a4b-4c2e-9f1a-3b2d6e7c8a90"
ITEM = {"item_id": "gongfang-zhuangxiu", "item_name": "公房装修改造申请"}
STAGE_ONE = ("gzc", "jjc", "xxh", "hq", "bwc", "bmc")
APPROVER_PHONES = {
    "gzc": "13900000001", "jjc": "13900000002", "xxh": "13900000003", "hq": "13900000004",
    "bwc": "13900000005", "bmc": "13900000006", "cwc": "13900000007",
}
TEACHER1_PHONE = "13800000001"
DEMO_PHONES = (
    [TEACHER1_PHONE, "13800000002", "13800000003"] + [f"139000000{n:02d}" for n in range(1, 12)]
)


class SmsGateway:
    def __init__(self, tmp_path: Path, env: dict[str, str]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = tmp_path / "smsgateway.log"
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - open while the process runs
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "services.smsgateway"],
            cwd=ROOT,
            env={**env, "ONETRIP_SMS_PORT": str(self.port), "ONETRIP_SMS_DB": str(tmp_path / "sms.sqlite3")},
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        eventually(self._answers, timeout=15)

    def _answers(self) -> bool:
        try:
            return requests.get(self.url + "/healthz", timeout=2).status_code == 200
        except requests.ConnectionError:
            return False

    def messages(self, phone: str | None = None) -> list[dict[str, Any]]:
        found = requests.get(self.url + "/messages", timeout=5).json()["messages"]
        return [m for m in found if phone is None or m["phone"] == phone]

    def fail(self, times: int = 0, forever: bool = False, phone: str | None = None) -> None:
        body = {"times": times, "forever": forever, "phone": phone}
        response = requests.post(self.url + "/admin/fail", json=body, timeout=5)
        assert response.status_code == 200

    def behaviour(self) -> dict[str, Any]:
        return dict(requests.get(self.url + "/admin/behaviour", timeout=5).json())

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)
        self._log.close()


class Mailbox:
    """What the aiosmtpd server received."""

    def __init__(self) -> None:
        self.received: list[tuple[list[str], Message]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append((list(envelope.rcpt_tos), email.message_from_bytes(envelope.content, policy=email.policy.default)))
        return "250 OK"

    def to(self, address: str) -> list[Message]:
        return [message for rcpts, message in self.received if address in rcpts]


@contextmanager
def smtp_server() -> Iterator[tuple[Mailbox, int]]:
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield mailbox, port
    finally:
        controller.stop()


def body_of(message: Message) -> str:
    return str(message.get_content())  # type: ignore[attr-defined]


class ApprovalEvents:
    """Publishes approval events the way the approval service's relay does."""

    def __init__(self, amqp_uri: str, case_id: str = CASE_ID, applicant: str = "teacher1") -> None:
        self.amqp_uri = amqp_uri
        self.case_id = case_id
        self.applicant = applicant
        self.version = 0

    def publish(self, event_type: str, **data: Any) -> IntegrationEvent:
        self.version += 1
        event = build(event_type, self.case_id, self.version, self.applicant, **data)
        publish_raw(self.amqp_uri, "approval.events", event_type, event.model_dump_json().encode())
        return event


NOTIFICATION_IDS = iter(range(1, 1_000_000))


def build(event_type: str, case_id: str, version: int, applicant: str, **data: Any) -> IntegrationEvent:
    body = {
        "case_id": case_id, **ITEM, "applicant": applicant, "lead_department": "gzc",
        "departments": ["gzc"], "at": datetime.now(UTC).isoformat(), **data,
    }
    return IntegrationEvent.build(
        type=event_type, service="approval", aggregate_id=case_id, aggregate_version=version,
        notification_id=next(NOTIFICATION_IDS), occurred_at=datetime.now(UTC),
        actor=applicant, data=body,
    )


def node_opened(department: str) -> dict[str, Any]:
    return {
        "node_id": f"s1-{department}", "department": department, "departments": [department],
        "stage": "并行审批", "stage_index": 0, "task_id": f"task-{department}", "round": 2,
        "opened_at": "2026-11-27T10:00:00+08:00", "due_at": "2026-12-01T10:00:00+08:00",
    }


def closed() -> dict[str, Any]:
    return {"item_version": 1, "round": 2, "closed_at": "2026-12-04T10:00:00+08:00",
            "trip_count": 0, "trips_promised": 0}


CASE_QUEUE = "evt-approval-all--notify.on_case_event"


@pytest.fixture
def sms(tmp_path: Path, service_env: dict[str, str]) -> Iterator[SmsGateway]:
    gateway = SmsGateway(tmp_path, service_env)
    yield gateway
    gateway.stop()


@pytest.fixture
def mailbox(service_env: dict[str, str]) -> Iterator[Mailbox]:
    with smtp_server() as (box, port):
        service_env["ONETRIP_SMTP_HOST"] = "127.0.0.1"
        service_env["ONETRIP_SMTP_PORT"] = str(port)
        yield box


@pytest.fixture
def notify_env(service_env: dict[str, str], sms: SmsGateway, mailbox: Mailbox) -> dict[str, str]:
    service_env.update(
        ONETRIP_SMS_URL=sms.url + "/v1/sms",
        ONETRIP_SMS_MIN_INTERVAL_SECONDS="1",
        ONETRIP_NOTIFY_RETRY_BASE_SECONDS="0.2",
        ONETRIP_NOTIFY_RETRY_CAP_SECONDS="1",
        ONETRIP_NOTIFY_MAX_ATTEMPTS="5",
        ONETRIP_NOTIFY_LEASE_SECONDS="3",
        ONETRIP_NOTIFY_POLL_SECONDS="0.2",
        ONETRIP_CIPHER_KEY="test-cipher-key",
    )
    return service_env


@pytest.fixture
def directory(processes: ProcessGroup, notify_env: dict[str, str]) -> ServiceProcess:
    process, _ = start_gateway(processes)
    # The HTTP side may answer before the RPC side consumes; notify needs the RPC side.
    return process.wait_for_queue("rpc-gateway")


def start_notify(processes: ProcessGroup, **extra_env: str) -> ServiceProcess:
    return processes.start("notify", **extra_env).wait_for_queue(CASE_QUEUE)


def inbox_of(service_env: dict[str, str], username: str) -> list[dict[str, Any]]:
    # as the gateway asks it for the signed-in user
    with signed_cluster_rpc(service_env["AMQP_URI"], actor={"username": username}) as rpc:
        return list(rpc.notify.list_notifications(username))


def failed_notifications(service_env: dict[str, str]) -> list[dict[str, Any]]:
    with signed_cluster_rpc(service_env["AMQP_URI"]) as rpc:
        return list(rpc.notify.failed_notifications())
