"""The hall on a three-node RabbitMQ cluster: one node stopped under load, then another after the
first returned; every case approved, the ledger whole and once, one success SMS per case.

Not part of ``make test`` (it starts a cluster of its own, about two minutes): ``make
test-cluster`` runs it. The cluster (``scripts/rabbitmq-cluster``: nodes on ports 5701–5703, state
under a temporary directory) never touches the machine's broker on 5672. The services reach it
through one address that hands each new connection to the first node answering, as a Kubernetes
Service or a load balancer does; every subscription queue is a quorum queue on the three nodes, and
nameko's classic RPC queues are mirrored on all three by a policy of the test's vhost.
"""
from __future__ import annotations

import socket
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import psycopg
import pytest
import requests

from shared.caller import signed_cluster_rpc
from tests.support.gateway import Api, free_port
from tests.support.hall import ITEM, PARALLEL, PDF, PNG
from tests.support.notify import SmsGateway
from tests.support.processes import ROOT, ProcessGroup, eventually
from tests.support.servers import Servers, fresh_vhost, service_environment

pytestmark = pytest.mark.integration

CLUSTER = ROOT / "scripts" / "rabbitmq-cluster"
NODE_PORTS = (5701, 5702, 5703)
CASES = 8
APPLICANTS = ("teacher1", "teacher2", "student1")
DECIDERS = (*PARALLEL, "cwc")
RETRYABLE = {409, 429, 503}


class FailoverAddress:
    """One TCP address for the cluster: each new connection goes to the first node that accepts."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.turn = 0
        self.connections = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = self._node()
            if upstream is None:
                client.close()
                continue
            self.connections += 1
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _node(self) -> socket.socket | None:
        self.turn += 1
        for offset in range(len(NODE_PORTS)):
            port = NODE_PORTS[(self.turn + offset) % len(NODE_PORTS)]
            try:
                return socket.create_connection(("127.0.0.1", port), timeout=2)
            except OSError:
                continue
        return None

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        source.settimeout(None)
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self.listener.close()


def cluster(*args: str) -> None:
    subprocess.run([str(CLUSTER), *args], check=True, timeout=300, capture_output=True)


@pytest.fixture
def address() -> Iterator[FailoverAddress]:
    found = FailoverAddress()
    yield found
    found.close()


@pytest.fixture
def three_nodes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                address: FailoverAddress) -> Iterator[str]:
    state = tmp_path / "cluster"
    cluster("start", str(state))
    monkeypatch.setenv("ONETRIP_BROKER_API_URL", "http://127.0.0.1:15701/api")
    try:
        yield f"amqp://guest:guest@127.0.0.1:{address.port}/"
    finally:
        cluster("stop", str(state))


@pytest.fixture
def cluster_env(servers: Servers, database_url: str, three_nodes: str,
                tmp_path: Path) -> Iterator[dict[str, str]]:
    on_cluster = Servers(database_url, three_nodes)
    with fresh_vhost(on_cluster) as vhost_uri:
        mirror_rpc_queues(vhost_uri)
        env = service_environment(database_url, vhost_uri, tmp_path)
        env.update(ONETRIP_BROKER_API_URL="http://127.0.0.1:15701/api", ONETRIP_RPC_TIMEOUT="3",
                   ONETRIP_SMS_MIN_INTERVAL_SECONDS="1", ONETRIP_NOTIFY_RETRY_BASE_SECONDS="0.2",
                   ONETRIP_NOTIFY_RETRY_CAP_SECONDS="1", ONETRIP_NOTIFY_POLL_SECONDS="0.2",
                   ONETRIP_CIPHER_KEY="test-cipher-key", ONETRIP_AUDIT_GRACE_SECONDS="5")
        yield env


def mirror_rpc_queues(vhost_uri: str) -> None:
    """nameko's RPC queues are classic queues: mirrored on every node by policy, so a service's
    queue outlives the node that declared it (the subscription queues are quorum queues)."""
    vhost = quote(unquote(urlsplit(vhost_uri).path[1:]), safe="")
    reply = requests.put(
        f"http://127.0.0.1:15701/api/policies/{vhost}/onetrip-rpc-mirrored", auth=("guest", "guest"),
        json={"pattern": "^rpc-", "apply-to": "queues", "priority": 1,
              "definition": {"ha-mode": "all", "ha-sync-mode": "automatic"}}, timeout=30)
    assert reply.status_code in (201, 204), reply.text


def call(do: Callable[[], requests.Response], ok: set[int], timeout: float = 120) -> requests.Response:
    """A careful client: the same request again after a dropped connection or a 503."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            reply = do()
            if reply.status_code in ok:
                return reply
            assert reply.status_code in RETRYABLE, (reply.status_code, reply.text)
        except requests.RequestException:
            pass
        assert time.monotonic() < deadline, "no answer within the deadline"
        time.sleep(0.3)


def login(api: Api, username: str) -> Api:
    return Api(api.base_url, call(lambda: api.login(username), {200}).json()["token"])


def apply(user: Api, room: str) -> str:
    def upload(name: str, content: bytes) -> str:
        reply = call(lambda: user.post("/api/v1/files", files={"file": (name, content)}), {201})
        return str(reply.json()["file_id"])

    body = {"item_id": ITEM, "form": {"房间": room},
            "materials": {"改造前结构图": upload("改造前结构图.png", PNG),
                          "本次结构设计图": upload("本次结构设计图.pdf", PDF)}}
    key = {"Idempotency-Key": str(uuid.uuid4())}
    reply = call(lambda: user.post("/api/v1/cases", json=body, headers=key), {201})
    return str(reply.json()["case_id"])


def decide_everything(approver: Api, cases: set[str], stop: threading.Event) -> None:
    while not stop.wait(0.2):
        try:
            tasks = approver.get("/api/v1/tasks").json().get("tasks", [])
        except (requests.RequestException, ValueError):
            continue
        for task in (t for t in tasks if t["case_id"] in cases):
            key = {"Idempotency-Key": str(uuid.uuid4())}
            call(lambda task=task, key=key: approver.post(
                f"/api/v1/tasks/{task['task_id']}/decision",
                json={"decision": "approve", "comment": "同意"}, headers=key), {200, 409})


def all_approved(applicants: dict[str, Api], case_ids: set[str]) -> bool:
    found = {case["case_id"]: case["status"] for user in applicants.values()
             for case in user.get("/api/v1/cases").json()["cases"]}
    return {found.get(case_id) for case_id in case_ids} == {"approved"}


def success_sms(sms: SmsGateway, case_ids: set[str]) -> Counter[str]:
    return Counter(case_id for message in sms.messages() for case_id in case_ids
                   if "办理成功" in message["text"] and case_id in message["text"])


def ledger_complete(env: dict[str, str]) -> bool:
    with signed_cluster_rpc(env["AMQP_URI"], timeout=60) as rpc:
        report = rpc.audit.verify()
    return bool(report["ok"]) and report["missing"] == []


def ledger_duplicates(database_url: str) -> list[Any]:
    with psycopg.connect(database_url) as conn:
        return conn.execute("SELECT event::jsonb->>'event_id', count(*) FROM audit.ledger"
                            " GROUP BY 1 HAVING count(*) > 1").fetchall()


def test_two_nodes_stopped_in_turn_under_load_lose_and_double_nothing(
    cluster_env: dict[str, str], address: FailoverAddress, tmp_path: Path,
) -> None:
    # Given the whole hall on the three-node cluster
    sms = SmsGateway(tmp_path, cluster_env)
    cluster_env["ONETRIP_SMS_URL"] = sms.url + "/v1/sms"
    processes = ProcessGroup(cluster_env, tmp_path)
    port = free_port()
    try:
        for name in ("audit", "catalogue", "approval", "gateway", "notify"):
            processes.start(name, PORT=str(port)).wait_for_queue(f"rpc-{name}")
        api = Api(f"http://127.0.0.1:{port}")
        eventually(api.answers, timeout=60)
        applicants = {name: login(api, name) for name in APPLICANTS}
        stop, case_ids = threading.Event(), set[str]()
        workers = [threading.Thread(target=decide_everything, args=(login(api, code), case_ids, stop))
                   for code in DECIDERS]
        for worker in workers:
            worker.start()
        try:
            # When one node stops under load, comes back, then another stops and comes back
            state = str(tmp_path / "cluster")
            outages = {2: "1", 5: "2"}
            before = address.connections
            for n in range(CASES):
                case_ids.add(apply(applicants[APPLICANTS[n % 3]], f"航空楼 {501 + n}"))
                if n in outages:
                    cluster("stop-node", state, outages[n])
                    time.sleep(5)
                    cluster("start-node", state, outages[n])
            # Then every case ends approved
            eventually(lambda: all_approved(applicants, case_ids), timeout=240, interval=1)
            # (after connections to the stopped nodes had moved to the others)
            assert address.connections > before, (before, address.connections)
        finally:
            stop.set()
            for worker in workers:
                worker.join(60)
        # And each applicant got exactly one success SMS per case
        eventually(lambda: success_sms(sms, case_ids) == Counter(dict.fromkeys(case_ids, 1)),
                   timeout=120)
        # And the ledger holds every published event exactly once, and misses none
        eventually(lambda: ledger_complete(cluster_env), timeout=180, interval=2)
        assert ledger_duplicates(cluster_env["DATABASE_URL"]) == []
        time.sleep(3)  # a late duplicate would show now
        assert success_sms(sms, case_ids) == Counter(dict.fromkeys(case_ids, 1))
    finally:
        stoppers = [threading.Thread(target=p.stop) for p in processes.processes]
        for stopper in stoppers:
            stopper.start()
        for stopper in stoppers:
            stopper.join()
        sms.stop()
