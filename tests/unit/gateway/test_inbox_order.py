"""The approver's inbox: overdue nodes first (flagged, or past due now), then the oldest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from services.gateway.web.approver import inbox_order

NOW = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)


def task(task_id: str, received_days_ago: int, due_in_days: int, flagged: bool = False) -> dict[str, Any]:
    return {
        "task_id": task_id,
        "created_at": (NOW - timedelta(days=received_days_ago)).isoformat(),
        "due_at": (NOW + timedelta(days=due_in_days)).isoformat(),
        "overdue": flagged,
    }


def test_overdue_tasks_come_first_even_when_newer_then_the_oldest_first() -> None:
    tasks = [
        task("old-on-time", received_days_ago=5, due_in_days=3),
        task("new-past-due", received_days_ago=1, due_in_days=-1),
        task("newer-on-time", received_days_ago=0, due_in_days=2),
        task("flagged-by-approval", received_days_ago=2, due_in_days=1, flagged=True),
        task("oldest-past-due", received_days_ago=9, due_in_days=-4),
    ]
    ordered = inbox_order(tasks, NOW)
    assert [t["task_id"] for t in ordered] == [
        "oldest-past-due",
        "flagged-by-approval",
        "new-past-due",
        "old-on-time",
        "newer-on-time",
    ]
    assert [t["overdue"] for t in ordered] == [True, True, True, False, False]


def test_a_task_without_a_due_time_is_never_overdue_by_the_clock() -> None:
    undated = {**task("undated", 3, 0), "due_at": None}
    assert inbox_order([undated], NOW)[0]["overdue"] is False
