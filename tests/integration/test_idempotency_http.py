"""Idempotency-Key: a client that retries a command after a timeout gets the first answer,
and the command takes effect once, across gateways, restarts and a crash in between."""
from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
import pytest
import requests

from tests.support.gateway import Api, is_problem, start_gateway
from tests.support.hall import ITEM, PDF, PNG, upload
from tests.support.processes import ProcessGroup, eventually

pytestmark = pytest.mark.integration

NETWORK = {"item_id": "wangluo-kaitong", "form": {"申请表": "新入职教师,申请开通校园网账号"}}


def key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


def case_count(user: Api) -> int:
    return int(user.get("/api/v1/cases").json()["total"])


def stored_events(database_url: str, case_id: str, event_type: str) -> int:
    """How many events of ``event_type`` the case's stream holds (each stored as Case.Recorded
    holding the contract's typed event)."""
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM approval.approval_events WHERE originator_id = %s"
            " AND topic LIKE %s AND convert_from(state, 'UTF8')::json->'event'->>'_type_' = %s",
            (case_id, "%Case.Recorded", event_type),
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_the_same_key_and_body_file_one_case_and_answer_the_same(hall: Api) -> None:
    teacher = hall.as_user("teacher1")
    headers = key()
    # When 李老师 applies for a campus network account, and her client retries with the same key
    first = teacher.post("/api/v1/cases", json=NETWORK, headers=headers)
    again = teacher.post("/api/v1/cases", json=NETWORK, headers=headers)
    # Then both answers are the same 201 with the same case, and she has one case
    assert first.status_code == again.status_code == 201, (first.text, again.text)
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert case_count(teacher) == 1
    # When the same key comes with another body / Then it is refused, saying why (422)
    other = teacher.post("/api/v1/cases", json={**NETWORK, "form": {"申请表": "另一件事"}}, headers=headers)
    assert is_problem(other, 422) and "Idempotency-Key" in other.json()["detail"]
    # And a key no header may carry is refused too
    assert is_problem(teacher.post("/api/v1/cases", json=NETWORK, headers={"Idempotency-Key": "two words"}), 422)
    # And without the header every request is a new case, as before
    assert teacher.post("/api/v1/cases", json=NETWORK).status_code == 201
    assert teacher.post("/api/v1/cases", json=NETWORK).status_code == 201
    assert case_count(teacher) == 3
    # And another person's key is theirs alone
    other_teacher = hall.as_user("teacher2")
    assert other_teacher.post("/api/v1/cases", json=NETWORK, headers=headers).status_code == 201
    assert case_count(other_teacher) == 1


def test_concurrent_duplicates_file_one_case(hall: Api) -> None:
    teacher = hall.as_user("teacher1")
    headers = key()
    # When eight copies of one keyed submission arrive at once
    with ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(lambda _: teacher.post("/api/v1/cases", json=NETWORK, headers=headers), range(8)))
    # Then each is the case or "still in progress, retry" (409 with Retry-After), and there is one case
    created = [reply for reply in replies if reply.status_code == 201]
    busy = [reply for reply in replies if reply.status_code != 201]
    assert created, [reply.text for reply in replies]
    assert len({reply.json()["case_id"] for reply in created}) == 1
    assert all(is_problem(reply, 409) and reply.headers["Retry-After"] for reply in busy)
    assert case_count(teacher) == 1
    # And a retry after the first has finished gets the case
    retried = teacher.post("/api/v1/cases", json=NETWORK, headers=headers)
    assert retried.json()["case_id"] == created[0].json()["case_id"]


def test_two_gateways_and_a_restart_share_the_keys(hall: Api, processes: ProcessGroup) -> None:
    # Given a second gateway on the same database
    second_process, second = start_gateway(processes, label="gateway-2")
    teacher = hall.as_user("teacher1")
    headers = key()
    # When 李老师's submission reaches the first and her retry the second
    first = teacher.post("/api/v1/cases", json=NETWORK, headers=headers)
    via_second = Api(second.base_url, teacher.token).post("/api/v1/cases", json=NETWORK, headers=headers)
    # Then the second answers what the first did
    assert first.status_code == via_second.status_code == 201
    assert via_second.json() == first.json()
    # And after the second gateway restarts, it still does
    second_process.stop()
    _, restarted = start_gateway(processes, label="gateway-2-restarted")
    again = Api(restarted.base_url, teacher.token).post("/api/v1/cases", json=NETWORK, headers=headers)
    assert (again.status_code, again.json()) == (201, first.json())
    assert case_count(teacher) == 1


def test_a_gateway_dying_before_it_stored_the_answer_files_no_second_case(
    hall: Api, processes: ProcessGroup
) -> None:
    # Given a gateway that dies right after the case is filed, before it stores the answer
    dying, doomed = start_gateway(processes, label="gateway-dying", ONETRIP_RPC_TIMEOUT="2",
                                  ONETRIP_FAULT="gateway_before_answer_stored")
    teacher = hall.as_user("teacher1")
    headers = key()
    with pytest.raises(requests.ConnectionError):
        Api(doomed.base_url, teacher.token).post("/api/v1/cases", json=NETWORK, headers=headers)
    assert dying.wait_exit() == 17
    # When her client retries through another gateway: "in progress" until the dead one's
    # lease runs out (3 × its RPC timeout), then the case the first attempt filed
    def retried() -> requests.Response | None:
        reply = teacher.post("/api/v1/cases", json=NETWORK, headers=headers)
        assert reply.status_code in (201, 409), reply.text
        return reply if reply.status_code == 201 else None

    reply = eventually(retried, timeout=30, interval=0.5)
    # Then there is still one case, and the retry answers it
    assert case_count(teacher) == 1
    assert reply.json()["case_id"] == teacher.get("/api/v1/cases").json()["cases"][0]["case_id"]


def returned_renovation(hall: Api) -> tuple[Api, dict[str, Any]]:
    teacher = hall.as_user("teacher1")
    drawings = {"改造前结构图": upload(teacher, "改造前结构图.png", PNG),
                "本次结构设计图": upload(teacher, "本次结构设计图.pdf", PDF)}
    case = teacher.post("/api/v1/cases", json={"item_id": ITEM, "form": {"房间": "航空楼 301"},
                                               "materials": drawings}).json()
    bwc = hall.as_user("bwc")
    task = next(t for t in bwc.get("/api/v1/tasks").json()["tasks"] if t["case_id"] == case["case_id"])
    returned = bwc.post(f"/api/v1/tasks/{task['task_id']}/decision",
                        json={"decision": "return", "comment": "请补充消防通道示意图"})
    assert returned.json()["status"] == "returned", returned.text
    return teacher, returned.json()


def test_a_keyed_decision_and_resubmission_take_effect_once(hall: Api, service_env: dict[str, str]) -> None:
    database = service_env["DATABASE_URL"]
    # Given 李老师's renovation case, returned by 保卫处
    teacher, case = returned_renovation(hall)
    case_id = case["case_id"]
    # When she resubmits twice with one key
    headers = key()
    resubmitted = [teacher.post(f"/api/v1/cases/{case_id}/resubmit", json={}, headers=headers) for _ in range(2)]
    # Then both answers are the same 200, in round 2, from one resubmission
    assert [reply.status_code for reply in resubmitted] == [200, 200]
    assert resubmitted[1].json() == resubmitted[0].json() and resubmitted[0].json()["round"] == 2
    assert stored_events(database, case_id, "case_resubmitted") == 1
    # When 国资处 approves twice with one key
    gzc = hall.as_user("gzc")
    task = next(t for t in gzc.get("/api/v1/tasks").json()["tasks"] if t["case_id"] == case_id)
    decided_before = stored_events(database, case_id, "node_decided")
    headers = key()
    decisions = [gzc.post(f"/api/v1/tasks/{task['task_id']}/decision",
                          json={"decision": "approve", "comment": "同意"}, headers=headers) for _ in range(2)]
    # Then both are the same 200 answer, and one decision was recorded
    assert [reply.status_code for reply in decisions] == [200, 200]
    assert decisions[1].json() == decisions[0].json()
    assert stored_events(database, case_id, "node_decided") == decided_before + 1
    # While without a key deciding again is still a conflict (409)
    assert is_problem(gzc.post(f"/api/v1/tasks/{task['task_id']}/decision",
                               json={"decision": "approve", "comment": "同意"}), 409)
