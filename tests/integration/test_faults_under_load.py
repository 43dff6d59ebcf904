"""Services dying under load, hostile input arriving meanwhile: nothing lost, nothing doubled.

Twelve renovation cases go through the public API — two drawings each, six parallel
departments and 财务处 deciding from their inboxes — while every backend service and the
gateway is killed with SIGKILL and started again, the broker connections of every service
are cut at once, and a stranger keeps sending input no store can hold. Clients behave as
a careful campus client would: on a timeout or a 503 they retry with the same
``Idempotency-Key``. At the end every case is approved, every bad request was refused
with a 4xx (never a 500), the ledger holds every published event exactly once and misses
none, and each applicant received exactly one success SMS per case.
"""
from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
import requests

from shared.caller import signed_cluster_rpc
from tests.support.bus import CuttableProxy
from tests.support.gateway import Api, free_port
from tests.support.hall import ITEM, PARALLEL, PDF, PNG
from tests.support.notify import SmsGateway
from tests.support.processes import ProcessGroup, eventually

pytestmark = pytest.mark.integration

CASES = 12
APPLICANTS = ("teacher1", "teacher2", "student1")
DECIDERS = [*PARALLEL, "cwc"]
RETRYABLE = {409, 429, 503}  # in progress (idempotency), urged too soon, a service away


class Hall:
    """Every service of the hall, each a process the test may kill and start again."""

    def __init__(self, processes: ProcessGroup, via_proxy: str) -> None:
        self.processes = processes
        self.port = free_port()
        self.api = Api(f"http://127.0.0.1:{self.port}")
        self.env = {"AMQP_URI": via_proxy, "ONETRIP_RPC_TIMEOUT": "3", "PORT": str(self.port)}
        self.services = {name: processes.start(name, **self.env).wait_for_queue(f"rpc-{name}")
                         for name in ("audit", "catalogue", "approval", "notify", "gateway")}
        eventually(self.api.answers, timeout=60)

        self.recovered: dict[str, float] = {}

    def restart(self, name: str) -> None:
        """SIGKILL, then start again; remembers how long until it served again."""
        service = self.services[name]
        killed = time.monotonic()
        service.kill()
        time.sleep(0.5)
        service.start(**self.env).wait_for_queue(f"rpc-{name}")
        if name == "gateway":
            eventually(self.api.answers, timeout=60)
        self.recovered[name] = time.monotonic() - killed


SENT: Counter[str] = Counter()


def call(do: Callable[[], requests.Response], ok: set[int], timeout: float = 90) -> requests.Response:
    """A careful client: the same request again after a dropped connection, a timeout or a
    503, until it is answered for real. A 500 is never retried: it fails the test."""
    deadline = time.monotonic() + timeout
    SENT["first tries"] += 1
    while True:
        try:
            SENT["requests"] += 1
            reply = do()
            if reply.status_code in ok:
                return reply
            assert reply.status_code < 500 or reply.status_code == 503, reply.text
            assert reply.status_code in RETRYABLE, (reply.status_code, reply.text)
        except requests.RequestException:
            pass
        assert time.monotonic() < deadline, "no answer within the deadline"
        time.sleep(0.3)


def login(api: Api, username: str) -> Api:
    reply = call(lambda: api.login(username), {200})
    return Api(api.base_url, reply.json()["token"])


def upload(user: Api, name: str, content: bytes) -> str:
    reply = call(lambda: user.post("/api/v1/files", files={"file": (name, content)}), {201})
    return str(reply.json()["file_id"])


def apply(user: Api, room: str) -> str:
    before, design = upload(user, "改造前结构图.png", PNG), upload(user, "本次结构设计图.pdf", PDF)
    body = {"item_id": ITEM, "form": {"房间": room},
            "materials": {"改造前结构图": before, "本次结构设计图": design}}
    key = {"Idempotency-Key": str(uuid.uuid4())}
    reply = call(lambda: user.post("/api/v1/cases", json=body, headers=key), {201})
    assert reply.json()["status"] == "in_review", reply.text
    return str(reply.json()["case_id"])


def decide_everything(approver: Api, cases: set[str], stop: threading.Event) -> None:
    """An approver working through their inbox until every case of the run is decided."""
    while not stop.is_set():
        try:
            tasks = approver.get("/api/v1/tasks").json().get("tasks", [])
        except (requests.RequestException, ValueError):
            time.sleep(0.3)
            continue
        for task in (t for t in tasks if t["case_id"] in cases):
            approve(approver, task["task_id"])
        time.sleep(0.2)


def approve(approver: Api, task_id: str) -> None:
    key = {"Idempotency-Key": str(uuid.uuid4())}
    decision = {"decision": "approve", "comment": "同意"}
    call(lambda: approver.post(f"/api/v1/tasks/{task_id}/decision", json=decision, headers=key),
         {200, 409})  # 409: decided already (another pass over a stale inbox)


HOSTILE: list[tuple[str, str, Any]] = [
    ("POST", "/api/v1/cases", {"item_id": ITEM, "form": {"房间": "3\u00000"}, "materials": {}}),
    ("POST", "/api/v1/cases", {"item_id": ITEM, "form": {"房间": "\ud800"}, "materials": {}}),
    ("POST", "/api/v1/session", "[" * 10_000 + "]" * 10_000),
    ("GET", "/api/v1/cases?limit=²", None),
    ("GET", "/api/v1/items?q=%00", None),
    ("POST", f"/api/v1/cases/{uuid.uuid4()}/rating", {"score": True, "comment": "差"}),
]


def keep_sending_hostile_input(user: Api, stop: threading.Event, answers: Counter[int]) -> None:
    while not stop.is_set():
        for method, path, body in HOSTILE:
            raw = body if isinstance(body, str) else None
            try:
                reply = user.request(method, path, json=None if raw else body, data=raw,
                                     headers={"Content-Type": "application/json"})
                answers[reply.status_code] += 1
            except requests.RequestException:
                answers[0] += 1  # the gateway was down a moment
        time.sleep(0.1)


@pytest.fixture
def proxy(service_env: dict[str, str]) -> Iterator[tuple[CuttableProxy, str]]:
    broker = urlsplit(service_env["AMQP_URI"])
    cuttable = CuttableProxy(broker.hostname or "127.0.0.1", broker.port or 5672)
    netloc = f"{broker.username}:{broker.password}@127.0.0.1:{cuttable.port}"
    yield cuttable, urlunsplit(broker._replace(netloc=netloc))
    cuttable.close()


def test_kills_and_a_cut_broker_under_load_lose_nothing_and_double_nothing(
    processes: ProcessGroup, notify_env: dict[str, str], sms: SmsGateway,
    proxy: tuple[CuttableProxy, str], service_env: dict[str, str],
) -> None:
    cuttable, via_proxy = proxy
    # Given the whole hall, reaching the broker through a proxy that can cut it off
    hall = Hall(processes, via_proxy)
    applicants = {name: login(hall.api, name) for name in APPLICANTS}
    approvers = {code: login(hall.api, code) for code in DECIDERS}
    eventually(lambda: hall.api.get(f"/api/v1/items/{ITEM}").status_code == 200, timeout=30)
    # And a stranger sending input no store can hold, and approvers working their inboxes
    stop, hostile_answers, case_ids = threading.Event(), Counter[int](), set[str]()
    workers = [threading.Thread(target=keep_sending_hostile_input,
                                args=(applicants["student1"], stop, hostile_answers))]
    workers += [threading.Thread(target=decide_everything, args=(a, case_ids, stop))
                for a in approvers.values()]
    for worker in workers:
        worker.start()
    try:
        # When the cases are filed while every service dies in turn and the broker is cut
        faults = iter(["approval", "audit", "notify", "catalogue", "gateway", "broker"])
        for n in range(CASES):
            case_ids.add(apply(applicants[APPLICANTS[n % 3]], f"航空楼 {301 + n}"))
            fault = next(faults, None) if n % 2 == 1 else None
            if fault == "broker":
                cuttable.cut()
            elif fault is not None:
                hall.restart(fault)
        # Then every case ends approved
        eventually(lambda: all_approved(applicants, case_ids), timeout=180, interval=1)
    finally:
        stop.set()
        for worker in workers:
            worker.join(60)
    # And the hostile input was refused every time, never a server error
    assert hostile_answers and not any(code >= 500 and code != 503 for code in hostile_answers)
    assert sum(n for code, n in hostile_answers.items() if 400 <= code < 500) > len(HOSTILE)
    # And each applicant got exactly one success SMS per case
    eventually(lambda: success_sms(sms, case_ids) == Counter({c: 1 for c in case_ids}), timeout=90)
    # And the ledger holds every published event exactly once, and misses none
    eventually(lambda: ledger_complete(service_env), timeout=180, interval=2)
    assert ledger_duplicates(service_env["DATABASE_URL"]) == []
    time.sleep(3)  # a late duplicate would show now
    assert success_sms(sms, case_ids) == Counter({c: 1 for c in case_ids})
    print(f"\nfaults: {CASES} cases, {SENT['requests']} requests by careful clients "
          f"({SENT['requests'] - SENT['first tries']} of them retries), "
          f"{sum(hostile_answers.values())} hostile; seconds to serve again after SIGKILL: "
          + ", ".join(f"{name} {seconds:.1f}" for name, seconds in hall.recovered.items()))


def all_approved(applicants: dict[str, Api], case_ids: set[str]) -> bool:
    found: dict[str, str] = {}
    for user in applicants.values():
        for case in user.get("/api/v1/cases").json()["cases"]:
            found[case["case_id"]] = case["status"]
    statuses = {found.get(case_id) for case_id in case_ids}
    assert statuses <= {"in_review", "approved", None}, statuses
    return statuses == {"approved"}


def success_sms(sms: SmsGateway, case_ids: set[str]) -> Counter[str]:
    return Counter(case_id for message in sms.messages() for case_id in case_ids
                   if "办理成功" in message["text"] and case_id in message["text"])


def ledger_complete(service_env: dict[str, str]) -> bool:
    with signed_cluster_rpc(service_env["AMQP_URI"], timeout=60) as rpc:
        report = rpc.audit.verify()
    return bool(report["ok"]) and report["missing"] == []


def ledger_duplicates(database_url: str) -> list[Any]:
    with psycopg.connect(database_url) as conn:
        return conn.execute(
            "SELECT event::jsonb->>'event_id', count(*) FROM audit.ledger"
            " GROUP BY 1 HAVING count(*) > 1"
        ).fetchall()
