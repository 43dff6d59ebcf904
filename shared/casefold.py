"""The one fold that turns a case's integration events into the contract's ``Case``.

The approval service keeps its ``Case`` aggregate's view with ``apply``; the audit
service replays a case from its ledger with ``fold``. Each event's data carries all the
fold needs, so both always agree. Pure: no clock, no I/O, inputs never mutated.
"""
from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from shared.contracts.approval import UnknownCaseEventError

Case = dict[str, Any]
Data = Mapping[str, Any]
Handler = Callable[[Case, Data, str, "str | None"], None]

OPEN_STATUSES = frozenset({"in_review", "returned", "intake_rejected"})
CLOSED_STATUSES = frozenset({"approved", "rejected", "withdrawn"})
DECIDED_STATES = {"approve": "approved", "return": "returned", "reject": "rejected"}




def apply(
    case: Case | None,
    event_type: str,
    data: Data,
    occurred_at: str | datetime,
    actor: str | None,
) -> Case:
    return apply_in_place(
        copy.deepcopy(case) if case is not None else None, event_type, data, occurred_at, actor
    )


def apply_in_place(
    case: Case | None,
    event_type: str,
    data: Data,
    occurred_at: str | datetime,
    actor: str | None,
) -> Case:
    """``apply`` for a caller that owns ``case`` (a fold, an aggregate): no copy of the case."""
    handler = HANDLERS.get(event_type)
    if handler is None:
        raise UnknownCaseEventError(f"not a case event: {event_type}")
    if case is None and event_type != "case_submitted":
        raise UnknownCaseEventError(f"a case starts with case_submitted, not {event_type}")
    state: Case = case if case is not None else {}
    handler(state, copy.deepcopy(dict(data)), _moment(data, occurred_at), actor)
    _derive_stage_states(state)
    return state


def fold(events: Iterable[Any]) -> Case | None:
    case: Case | None = None
    for event in events:
        event_type, data, occurred_at, actor = _unpack(event)
        case = apply_in_place(case, event_type, data, occurred_at, actor)
    return case


def is_case_event(event_type: str) -> bool:
    return event_type in HANDLERS


def find_node(case: Case, node_id: str) -> dict[str, Any] | None:
    for stage in case["stages"]:
        for node in stage["nodes"]:
            if node["node_id"] == node_id:
                return node
    return None


def departments_of(case: Case) -> list[str]:
    departments = [case["department"]]
    for stage in case["stages"]:
        departments.extend(node["department"] for node in stage["nodes"])
    return list(dict.fromkeys(departments))


# -- handlers, one per event type ------------------------------------------------------


def _submitted(case: Case, data: Data, at: str, actor: str | None) -> None:
    case.update(
        case_id=data["case_id"],
        item_id=data["item_id"],
        item_version=data["item_version"],
        item_name=data["item_name"],
        department=data["department"],
        applicant=data["applicant"],
        applicant_department=data.get("applicant_department"),
        status="in_review",
        submitted_at=data.get("submitted_at") or at,
        due_at=data.get("due_at"),
        closed_at=None,
        missing_materials=[],
        round=data.get("round", 1),
        form=data.get("form", {}),
        materials=data.get("materials", {}),
        item_materials=data.get("item_materials", []),
        time_limit_days=data.get("time_limit_days"),
        stages=[_stage(stage) for stage in data["flow"]["stages"]],
        trips=[],
        trips_promised=data.get("trips"),
        return_comments=[],
        rating=None,
    )


def _stage(stage: Data) -> dict[str, Any]:
    return {
        "name": stage["name"],
        "state": "waiting",
        "on_return": stage.get("on_return", "restart_stage"),
        "nodes": [_node(node) for node in stage["nodes"]],
    }


def _node(node: Data) -> dict[str, Any]:
    return {
        "node_id": node["node_id"],
        "department": node["department"],
        "time_limit_days": node.get("time_limit_days"),
        "state": "waiting",
        "task_id": None,
        "opened_at": None,
        "due_at": None,
        "overdue": False,
        "urged_at": None,
        "comment": None,
        "decided_by": None,
        "on_behalf_of": None,
        "decided_at": None,
    }


def _intake_rejected(case: Case, data: Data, at: str, actor: str | None) -> None:
    case.update(status="intake_rejected", due_at=None, missing_materials=data["missing_materials"])


def _node_opened(case: Case, data: Data, at: str, actor: str | None) -> None:
    _node_in(case, data).update(
        state="pending",
        task_id=data.get("task_id"),
        opened_at=data.get("opened_at") or at,
        due_at=data.get("due_at"),
        overdue=False,
        comment=None,
        decided_by=None,
        on_behalf_of=None,
        decided_at=None,
    )


def _node_decided(case: Case, data: Data, at: str, actor: str | None) -> None:
    _node_in(case, data).update(
        state=DECIDED_STATES[data["decision"]],
        comment=data.get("comment"),
        decided_by=data.get("decided_by") or actor,
        on_behalf_of=data.get("on_behalf_of"),
        decided_at=data.get("decided_at") or at,
    )


def _node_cancelled(case: Case, data: Data, at: str, actor: str | None) -> None:
    _node_in(case, data)["state"] = "cancelled"


def _node_overdue(case: Case, data: Data, at: str, actor: str | None) -> None:
    _node_in(case, data)["overdue"] = True


def _returned(case: Case, data: Data, at: str, actor: str | None) -> None:
    case.update(status="returned", return_comments=data["comments"])


def _resubmitted(case: Case, data: Data, at: str, actor: str | None) -> None:
    case.update(
        status="in_review",
        round=data["round"],
        due_at=data.get("due_at"),
        missing_materials=[],
        return_comments=[],
    )
    for key in ("form", "materials"):
        if data.get(key) is not None:
            case[key] = data[key]


def _closer(status: str) -> Handler:
    def close(case: Case, data: Data, at: str, actor: str | None) -> None:
        case.update(status=status, closed_at=data.get("closed_at") or at)

    return close


def _urged(case: Case, data: Data, at: str, actor: str | None) -> None:
    for node_id in data["node_ids"]:
        _node_by_id(case, node_id)["urged_at"] = data.get("urged_at") or at


def _trip_recorded(case: Case, data: Data, at: str, actor: str | None) -> None:
    trip = {"at": data.get("at") or at, "purpose": data["purpose"]}
    trip["recorded_by"] = data.get("recorded_by") or actor
    case["trips"].append(trip)


def _rated(case: Case, data: Data, at: str, actor: str | None) -> None:
    case["rating"] = {"score": data["score"], "comment": data.get("comment", "")}


HANDLERS: dict[str, Handler] = {
    "case_submitted": _submitted,
    "case_intake_rejected": _intake_rejected,
    "node_opened": _node_opened,
    "node_decided": _node_decided,
    "node_cancelled": _node_cancelled,
    "node_overdue": _node_overdue,
    "case_returned": _returned,
    "case_resubmitted": _resubmitted,
    "case_approved": _closer("approved"),
    "case_rejected": _closer("rejected"),
    "case_withdrawn": _closer("withdrawn"),
    "case_urged": _urged,
    "trip_recorded": _trip_recorded,
    "case_rated": _rated,
}


# -- helpers ---------------------------------------------------------------------------


def _node_in(case: Case, data: Data) -> dict[str, Any]:
    return _node_by_id(case, data["node_id"])


def _node_by_id(case: Case, node_id: str) -> dict[str, Any]:
    node = find_node(case, node_id)
    if node is None:
        raise UnknownCaseEventError(f"case {case.get('case_id')} has no node {node_id}")
    return node


def _derive_stage_states(case: Case) -> None:
    for stage in case.get("stages", []):
        stage["state"] = stage_state([node["state"] for node in stage["nodes"]])


def stage_state(node_states: list[str]) -> str:
    states = set(node_states)
    if "pending" in states:
        return "in_review"
    for decided in ("rejected", "returned"):
        if decided in states:
            return decided
    if states == {"approved"}:
        return "approved"
    if states == {"waiting"}:
        return "waiting"
    return "cancelled" if "cancelled" in states else "waiting"


def _moment(data: Data, occurred_at: str | datetime) -> str:
    moment = data.get("at") or occurred_at
    return moment.isoformat() if isinstance(moment, datetime) else str(moment)


def _unpack(event: Any) -> tuple[str, Data, str | datetime, str | None]:
    if isinstance(event, Mapping):
        occurred_at = event.get("occurred_at") or event.get("at") or ""
        return event["type"], event["data"], occurred_at, event.get("actor")
    return event.type, event.data, event.occurred_at, event.actor
