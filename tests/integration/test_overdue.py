"""Overdue nodes are flagged by a scheduled check, once, however many instances run it."""
from __future__ import annotations

import time

import psycopg
import pytest

from tests.support.gateway import Api
from tests.support.hall import ITEM, PARALLEL, PDF, PNG, upload
from tests.support.processes import ProcessGroup, eventually

pytestmark = pytest.mark.integration

LATE = {"ONETRIP_CLOCK_SKEW_DAYS": "30", "ONETRIP_OVERDUE_CHECK_SECONDS": "0.5"}


def overdue_events(database_url: str, case_id: str) -> list[str]:
    with psycopg.connect(database_url) as conn:
        # each case event is stored as Case.Recorded holding the contract's typed event
        rows = conn.execute(
            "SELECT e->'_data_'->>'node_id' FROM ("
            " SELECT convert_from(state, 'UTF8')::json->'event' AS e FROM approval.approval_events"
            " WHERE originator_id = %s AND topic LIKE %s) recorded WHERE e->>'_type_' = %s",
            (case_id, "%Case.Recorded", "node_overdue"),
        ).fetchall()
    return sorted(row[0] for row in rows)


def test_two_checking_instances_flag_each_overdue_node_once_even_across_a_restart(
    hall: Api, processes: ProcessGroup, service_env: dict[str, str]
) -> None:
    # Given a case waiting on six departments
    teacher = hall.as_user("teacher1")
    case = teacher.post("/api/v1/cases", json={"item_id": ITEM, "form": {"房间": "301"}, "materials": {
        "改造前结构图": upload(teacher, "前.png", PNG), "本次结构设计图": upload(teacher, "后.pdf", PDF)}}).json()
    # When two more approval instances, whose clocks say a month has passed, check every half second
    first = processes.start("approval", label="late-a", **LATE)
    processes.start("approval", label="late-b", **LATE)
    # Then each of the six nodes is flagged overdue exactly once
    expected = sorted(f"s1-{code}" for code in PARALLEL)
    eventually(lambda: overdue_events(service_env["DATABASE_URL"], case["case_id"]) == expected, timeout=40)
    # And a restarted instance does not flag them again
    first.stop()
    processes.start("approval", label="late-c", **LATE)
    time.sleep(4)
    assert overdue_events(service_env["DATABASE_URL"], case["case_id"]) == expected
    # And the approver's inbox shows the task as overdue
    tasks = hall.as_user("bwc").get("/api/v1/tasks").json()["tasks"]
    assert [t["overdue"] for t in tasks if t["case_id"] == case["case_id"]] == [True]
