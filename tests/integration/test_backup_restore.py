"""A backup taken while cases run restores into a new database where everything resumes.

The hall runs 公房装修改造申请 cases, the departments deciding from their inboxes; halfway, with
notify stopped a while (approval's events wait for it on the broker), ``scripts/backup`` takes the database (every schema), the uploads and the audit checkpoint. The
backup is restored with ``scripts/restore`` into a new database, with a new broker vhost and a
new SMS gateway, and the services are started on it. There the ledger verifies against the
checkpoint carried from the backup, every case goes on to approval and replays from the ledger,
the ledger holds each event once and misses none (nor any event notify consumed), and
no SMS sent before the backup is sent again while none is lost.
"""
from __future__ import annotations

import json
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

from shared.caller import signed_cluster_rpc
from tests.support.gateway import Api, start_gateway
from tests.support.hall import ITEM, PARALLEL, PDF, PNG, upload
from tests.support.notify import SmsGateway
from tests.support.processes import ROOT, ProcessGroup, eventually
from tests.support.servers import Servers, fresh_vhost

pytestmark = pytest.mark.integration

APPLICANTS = ("teacher1", "teacher2", "student1")
DECIDERS = (*PARALLEL, "cwc")
BEFORE_BACKUP, AFTER_BACKUP = 4, 1


def start_hall(processes: ProcessGroup) -> Api:
    for name in ("audit", "catalogue", "approval"):
        processes.start(name).wait_for_queue(f"rpc-{name}")
    gateway, api = start_gateway(processes)
    gateway.wait_for_queue("rpc-gateway")  # notify asks it for phone numbers
    processes.start("notify").wait_for_queue("rpc-notify")
    eventually(lambda: api.get(f"/api/v1/items/{ITEM}").status_code == 200, timeout=60)
    return api


def apply(user: Api, room: str) -> str:
    materials = {"改造前结构图": upload(user, "改造前结构图.png", PNG),
                 "本次结构设计图": upload(user, "本次结构设计图.pdf", PDF)}
    reply = user.post("/api/v1/cases", json={"item_id": ITEM, "form": {"房间": room},
                                             "materials": materials})
    assert reply.status_code == 201 and reply.json()["status"] == "in_review", reply.text
    return str(reply.json()["case_id"])


class Departments:
    """The seven departments deciding whatever their inboxes hold, until stopped."""

    def __init__(self, api: Api) -> None:
        self.stop = threading.Event()
        self.failures: list[str] = []
        self.workers = [threading.Thread(target=self.work, args=(api.as_user(code),), daemon=True)
                        for code in DECIDERS]
        for worker in self.workers:
            worker.start()

    def work(self, approver: Api) -> None:
        while not self.stop.wait(0.2):
            for task in approver.get("/api/v1/tasks").json()["tasks"]:
                reply = approver.post(f"/api/v1/tasks/{task['task_id']}/decision",
                                      json={"decision": "approve", "comment": "同意"})
                if reply.status_code not in (200, 409):
                    self.failures.append(reply.text)

    def halt(self) -> None:
        self.stop.set()
        for worker in self.workers:
            worker.join(30)
        assert self.failures == []


def stop_together(processes: ProcessGroup) -> None:
    # (a nameko service takes ~5 s to stop on SIGTERM: the hall stops at once, not in turn)
    stoppers = [threading.Thread(target=p.stop) for p in processes.processes]
    for stopper in stoppers:
        stopper.start()
    for stopper in stoppers:
        stopper.join()


def script(name: str, env: dict[str, str], *args: str) -> dict[str, Any]:
    ran = subprocess.run([str(ROOT / "scripts" / name), *args], cwd=ROOT, env=env,
                         capture_output=True, text=True, check=False, timeout=300)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    return dict(json.loads(ran.stdout))


def sms_counts(sms: SmsGateway, case_ids: set[str]) -> Counter[str]:
    return Counter(case_id for message in sms.messages() for case_id in case_ids
                   if "办理成功" in message["text"] and case_id in message["text"])


def cases_of(api: Api) -> dict[str, str]:
    return {case["case_id"]: case["status"] for name in APPLICANTS
            for case in api.as_user(name).get("/api/v1/cases").json()["cases"]}


def query(database_url: str, statement: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(database_url) as conn:
        return conn.execute(statement).fetchall()


@pytest.fixture
def restored_database(servers: Servers) -> Iterator[str]:
    name = f"onetrip_test_restored_{uuid.uuid4().hex[:8]}"
    yield urlunsplit(urlsplit(servers.database_url)._replace(path=f"/{name}"))
    with psycopg.connect(servers.database().conninfo("postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def test_a_backup_taken_under_load_restores_and_the_hall_resumes_losing_and_doubling_nothing(
    servers: Servers, processes: ProcessGroup, notify_env: dict[str, str], sms: SmsGateway,
    restored_database: str, tmp_path: Path,
) -> None:
    # Given the whole hall, its ledger checkpointed every second, cases under way
    notify_env.update(ONETRIP_AUDIT_CHECKPOINT_SECONDS="1", ONETRIP_AUDIT_GRACE_SECONDS="2")
    api = start_hall(processes)
    departments = Departments(api)
    applicants = {name: api.as_user(name) for name in APPLICANTS}
    filed = [apply(applicants[APPLICANTS[n % 3]], f"航空楼 {301 + n}") for n in range(2)]
    eventually(lambda: "approved" in cases_of(api).values(), timeout=120)
    # And notify down for a while: approval's events wait on the broker for it
    next(p for p in processes.processes if p.label == "notify").stop()
    filed += [apply(applicants[APPLICANTS[n % 3]], f"航空楼 {301 + n}")
              for n in range(2, BEFORE_BACKUP)]
    eventually(lambda: notify_behind(notify_env["DATABASE_URL"]), timeout=60)

    # When the backup is taken while the departments decide and the relays publish
    sent_before = set(sms_counts(sms, set(filed)))
    backup = script("backup", notify_env, str(tmp_path / "backup"))
    sent_by_the_end_of_backup = set(sms_counts(sms, set(filed)))
    filed += [apply(applicants["teacher1"], f"航空楼 4{n:02d}") for n in range(AFTER_BACKUP)]
    departments.halt()
    stop_together(processes)
    assert backup["checkpoint"]["seq"] > 0, backup  # the service had signed a head by then
    assert {"approval", "audit", "catalogue", "gateway", "notify"} <= set(backup["schemas"])

    # And it is restored into a new database, with its own vhost, uploads and checkpoint file
    with fresh_vhost(servers) as restored_vhost:
        (tmp_path / "restored").mkdir()
        sms_after = SmsGateway(tmp_path / "restored", notify_env)
        restored_env = {
            **notify_env, "DATABASE_URL": restored_database, "AMQP_URI": restored_vhost,
            "ONETRIP_FILES_DIR": str(tmp_path / "restored-files"),
            "ONETRIP_AUDIT_CHECKPOINT": str(tmp_path / "restored-checkpoint.json"),
            "ONETRIP_SMS_URL": sms_after.url + "/v1/sms",
        }
        restored = script("restore", restored_env, str(tmp_path / "backup"))
        # (what notify had not consumed is published again)
        assert restored["relays"]["approval"]["now"] < restored["relays"]["approval"]["was"]
        hall = ProcessGroup(restored_env, tmp_path / "restored")
        try:
            api = start_hall(hall)
            resumed(api, restored_env, sms_after, filed, sent_before, sent_by_the_end_of_backup,
                    backup)
        finally:
            stop_together(hall)
            sms_after.stop()


def resumed(api: Api, env: dict[str, str], sms_after: SmsGateway, filed: list[str],
            sent_before: set[str], sent_by_the_end_of_backup: set[str],
            backup: dict[str, Any]) -> None:
    database_url = env["DATABASE_URL"]
    # Then the restored hall holds every case filed before the backup, none filed after it
    cases = cases_of(api)
    assert set(filed[:BEFORE_BACKUP]) == set(cases), (filed, cases)
    # And the ledger verifies against the checkpoint the backup carried
    supervisor = api.as_user("discipline")
    report = supervisor.get("/api/v1/audit/verify").json()
    assert report["ok"] and report["entries"] >= backup["checkpoint"]["seq"], report
    # And the departments take up the cases still open: every one ends approved
    departments = Departments(api)
    try:
        eventually(lambda: set(cases_of(api).values()) == {"approved"}, timeout=120, interval=1)
    finally:
        departments.halt()
    # And every case replays from the ledger to the state the approval service holds
    for case_id in cases:
        trail = supervisor.get(f"/api/v1/audit/cases/{case_id}")
        assert trail.status_code == 200, trail.text
        assert trail.json()["state"]["status"] == "approved", trail.json()["state"]
        assert ledger_versions(database_url, case_id) == stored_versions(database_url, case_id)
    # And the ledger holds each of approval's events once, and everything notify consumed
    eventually(lambda: notify_had_nothing_the_ledger_lacks(database_url), timeout=60, interval=1)
    assert query(database_url, "SELECT event::jsonb->>'event_id' FROM audit.ledger"
                 " GROUP BY 1 HAVING count(*) > 1") == []
    eventually(lambda: ledger_complete(env), timeout=60, interval=1)
    # And no success SMS went out twice, none was lost
    eventually(lambda: set(sms_counts(sms_after, set(cases))) >= set(cases) - sent_by_the_end_of_backup,
               timeout=60)
    time.sleep(2)  # a late duplicate would show now
    again = sms_counts(sms_after, set(cases))
    assert not set(again) & sent_before, again
    assert all(count == 1 for count in again.values()), again


def notify_behind(database_url: str) -> bool:
    published = query(database_url, "SELECT notification_id FROM approval.relay_position")
    consumed = query(database_url, "SELECT max(notification_id) FROM notify.notify_tracking"
                     " WHERE application_name = 'approval'")
    return bool(published and published[0][0] > (consumed[0][0] or 0) + 3)


def ledger_versions(database_url: str, case_id: str) -> list[int]:
    rows = query(database_url, "SELECT (event::jsonb->>'aggregate_version')::int FROM audit.ledger"
                 " WHERE event::jsonb->>'service' = 'approval'"
                 f" AND event::jsonb->>'aggregate_id' = '{case_id}' ORDER BY 1")
    return [int(row[0]) for row in rows]


def stored_versions(database_url: str, case_id: str) -> list[int]:
    rows = query(database_url, "SELECT originator_version FROM approval.approval_events"
                 f" WHERE originator_id = '{case_id}' ORDER BY 1")
    return [int(row[0]) for row in rows]


def notify_had_nothing_the_ledger_lacks(database_url: str) -> bool:
    # (notify keeps no tracking row for an event it has nothing to send for)
    audit, notify = consumed(database_url, "audit"), consumed(database_url, "notify")
    assert notify <= audit, sorted(notify - audit)
    return True


def consumed(database_url: str, consumer: str) -> set[int]:
    rows = query(database_url, f"SELECT notification_id FROM {consumer}.{consumer}_tracking"
                 " WHERE application_name = 'approval'")
    return {int(row[0]) for row in rows}


def ledger_complete(env: dict[str, str]) -> bool:
    with signed_cluster_rpc(env["AMQP_URI"], timeout=60) as rpc:
        report = rpc.audit.verify()
    return bool(report["ok"]) and report["missing"] == []

