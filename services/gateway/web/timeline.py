"""A case's timeline: every step and who took it, from the audit ledger when it answers,
otherwise from what the case itself remembers (its latest decisions only)."""

from __future__ import annotations

from typing import Any

from services.gateway.web.labels import DECISION, department_name, event_line

SYSTEM_STEPS = ("node_opened", "node_cancelled", "node_overdue")


def timeline_of(
    case: dict[str, Any], history: list[dict[str, Any]] | None
) -> tuple[list[dict[str, Any]], bool]:
    if history:
        return [step_of(event) for event in history if event.get("type") != "node_opened"], True
    return sorted(steps_from_case(case), key=lambda step: step["at"] or ""), False


def step_of(event: dict[str, Any]) -> dict[str, Any]:
    data = event.get("data") or {}
    return {
        "at": event.get("at"),
        "actor": event.get("actor"),
        "text": event_line(event),
        "comments": comments_of(event.get("type", ""), data),
        "system": event.get("type") in SYSTEM_STEPS,
        "type": event.get("type"),
    }


def comments_of(event_type: str, data: dict[str, Any]) -> list[str]:
    if event_type == "case_returned":
        return [
            f"{department_name(c['department'])}:{c['comment']}" for c in data.get("comments", [])
        ]
    for key in ("comment", "purpose"):
        if data.get(key):
            return [str(data[key])]
    return []


def steps_from_case(case: dict[str, Any]) -> list[dict[str, Any]]:
    steps = [_step(case["submitted_at"], case["applicant"], "提交申请")]
    for stage in case["stages"]:
        for node in stage["nodes"]:
            if node.get("decided_at"):
                decision = DECISION.get(_decision(node["state"]), node["state"])
                text = f"{department_name(node['department'])}:{decision}"
                steps.append(
                    _step(node["decided_at"], node.get("decided_by"), text, node.get("comment"))
                )
    for trip in case.get("trips") or []:
        steps.append(
            _step(trip["at"], trip.get("recorded_by"), "登记一次现场跑动", trip["purpose"])
        )
    if case.get("closed_at"):
        steps.append(_step(case["closed_at"], None, "办结"))
    return steps


def _decision(state: str) -> str:
    return {"approved": "approve", "returned": "return", "rejected": "reject"}.get(state, state)


def _step(
    at: str | None, actor: str | None, text: str, comment: str | None = None
) -> dict[str, Any]:
    return {
        "at": at,
        "actor": actor,
        "text": text,
        "comments": [comment] if comment else [],
        "system": False,
        "type": "",
    }
