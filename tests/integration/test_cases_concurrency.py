"""Many people at once: applicants and parallel approvers acting on the same cases concurrently."""
from __future__ import annotations

import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from services.approval.application import ApprovalApplication
from shared.casefold import fold
from shared.config import Settings
from shared.eventstore import application_env
from tests.support.gateway import Api
from tests.support.hall import ITEM, PARALLEL, PDF, PNG, upload
from tests.support.processes import eventually

pytestmark = pytest.mark.integration

CASES = 20
APPLICANTS = ["teacher1", "teacher2", "student1"]
APPROVERS = PARALLEL + ["cwc"]


def apply(hall: Api, number: int) -> str:
    applicant = hall.as_user(APPLICANTS[number % len(APPLICANTS)])
    materials = {
        "改造前结构图": upload(applicant, f"改造前-{number}.png", PNG),
        "本次结构设计图": upload(applicant, f"设计-{number}.pdf", PDF),
    }
    reply = applicant.post("/api/v1/cases", json={
        "item_id": ITEM, "form": {"房间": f"航空楼 {300 + number}"}, "materials": materials})
    assert reply.status_code == 201 and reply.json()["status"] == "in_review", reply.text
    return str(reply.json()["case_id"])


def work_inbox(hall: Api, code: str, case_ids: set[str]) -> int:
    """An approver approving every task of these cases until none is left for them."""
    approver, decided = hall.as_user(code), 0
    while decided < CASES:
        tasks = [t for t in approver.get("/api/v1/tasks").json()["tasks"] if t["case_id"] in case_ids]
        for task in tasks:
            reply = approver.post(f"/api/v1/tasks/{task['task_id']}/decision", json={"decision": "approve"})
            assert reply.status_code in (200, 409), reply.text
            decided += reply.status_code == 200
    return decided


def test_twenty_cases_and_seven_approvers_at_once_lose_and_double_nothing(
    hall: Api, service_env: dict[str, str]
) -> None:
    # Given twenty applications submitted concurrently
    with ThreadPoolExecutor(max_workers=CASES) as pool:
        case_ids = set(pool.map(lambda n: apply(hall, n), range(CASES)))
    assert len(case_ids) == CASES
    # When seven approvers work their inboxes at the same time
    with ThreadPoolExecutor(max_workers=len(APPROVERS)) as pool:
        decided = dict(zip(APPROVERS, pool.map(lambda c: work_inbox(hall, c, case_ids), APPROVERS)))
    # Then every approver decided each case exactly once and every case is approved
    assert decided == {code: CASES for code in APPROVERS}
    supervisor = hall.as_user("discipline")
    for case_id in case_ids:
        case = eventually(lambda case_id=case_id: supervisor.get(f"/api/v1/cases/{case_id}").json())
        assert case["status"] == "approved", case
    # And each case's stored history has one decision per node and folds to the same case
    settings = Settings(amqp_uri=service_env["AMQP_URI"], database_url=service_env["DATABASE_URL"])
    app = ApprovalApplication(env=application_env("approval", settings))
    try:
        for case_id in case_ids:
            events = list(app.events.get(uuid.UUID(case_id)))
            published = [app.publication(e) for e in events]
            decisions = Counter(p.data["node_id"] for p in published if p and p.type == "node_decided")
            assert decisions == Counter({f"s1-{c}": 1 for c in PARALLEL} | {"s2-cwc": 1})
            replayed = fold(
                {"type": p.type, "data": p.data, "occurred_at": e.timestamp, "actor": p.actor}
                for e, p in zip(events, published) if p is not None
            )
            assert replayed == app.get_case(case_id)
    finally:
        app.close()
