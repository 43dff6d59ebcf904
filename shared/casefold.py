"""The one fold that turns a case's integration events into the contract's ``Case``.

The approval service keeps its ``Case`` aggregate's view with ``apply``; the audit
service replays a case from its ledger with ``fold``. Each event's data carries all the
fold needs, so both always agree. Pure: no clock, no I/O, inputs never mutated.
"""
from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from pydantic_core import to_jsonable_python

from shared.contracts.case_events import (
    CASE_EVENTS,
    STATUS_AFTER,
    CaseApproved,
    CaseClosed,
    CaseEvent,
    CaseIntakeRejected,
    CaseRated,
    CaseRejected,
    CaseResubmitted,
    CaseReturned,
    CaseSubmitted,
    CaseUrged,
    CaseWithdrawn,
    FlowNode,
    FlowStage,
    NodeCancelled,
    NodeDecided,
    NodeOpened,
    NodeOverdue,
    TripRecorded,
    UnknownCaseEventError,
    case_event,
)

Case = dict[str, Any]
Handler = Callable[[Case, Any, "str | None"], None]

DECIDED_STATES = {"approve": "approved", "return": "returned", "reject": "rejected"}
SUBMITTED_AS_PUBLISHED = frozenset({
    "case_id", "item_id", "item_version", "item_name", "department", "applicant",
    "applicant_department", "submitted_at", "due_at", "round", "form", "materials",
    "item_materials", "time_limit_days",
})


def apply(case: Case | None, event: CaseEvent, actor: str | None) -> Case:
    return apply_in_place(copy.deepcopy(case) if case is not None else None, event, actor)


def apply_in_place(case: Case | None, event: CaseEvent, actor: str | None) -> Case:
    """``apply`` for a caller that owns ``case`` (a fold, an aggregate): no copy of the case."""
    handler = HANDLERS.get(type(event))
    if handler is None:
        raise UnknownCaseEventError(f"not a case event: {type(event).__name__}")
    if case is None and not isinstance(event, CaseSubmitted):
        raise UnknownCaseEventError(f"a case starts with case_submitted, not {event.event_type}")
    state: Case = case if case is not None else {}
    handler(state, event, actor)
    if type(event) in STATUS_AFTER:
        state["status"] = STATUS_AFTER[type(event)]
    _derive_stage_states(state)
    return state


def fold(events: Iterable[Any]) -> Case | None:
    """The case from its published events (envelopes, or their dicts), oldest first."""
    case: Case | None = None
    for envelope in events:
        event_type, data, actor = _unpack(envelope)
        case = apply_in_place(case, case_event(event_type, data), actor)
    return case


def is_case_event(event_type: str) -> bool:
    return event_type in CASE_EVENTS


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


# -- handlers, one per event class -----------------------------------------------------


def _submitted(case: Case, event: CaseSubmitted, actor: str | None) -> None:
    case.update(event.model_dump(mode="json", include=SUBMITTED_AS_PUBLISHED))
    case.update(
        closed_at=None,
        missing_materials=[],
        stages=[_stage(stage) for stage in event.flow.stages],
        trips=[],
        trips_promised=event.trips,
        return_comments=[],
        rating=None,
    )


def _stage(stage: FlowStage) -> dict[str, Any]:
    return {
        "name": stage.name,
        "state": "waiting",
        "on_return": stage.on_return,
        "nodes": [_node(node) for node in stage.nodes],
    }


def _node(node: FlowNode) -> dict[str, Any]:
    return {
        "node_id": node.node_id,
        "department": node.department,
        "time_limit_days": node.time_limit_days,
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


def _intake_rejected(case: Case, event: CaseIntakeRejected, actor: str | None) -> None:
    case.update(due_at=None, missing_materials=list(event.missing_materials))


def _node_opened(case: Case, event: NodeOpened, actor: str | None) -> None:
    _node_by_id(case, event.node_id).update(
        state="pending",
        task_id=event.task_id,
        opened_at=_json(event.opened_at),
        due_at=_json(event.due_at),
        overdue=False,
        comment=None,
        decided_by=None,
        on_behalf_of=None,
        decided_at=None,
    )


def _node_decided(case: Case, event: NodeDecided, actor: str | None) -> None:
    _node_by_id(case, event.node_id).update(
        state=DECIDED_STATES[event.decision],
        comment=event.comment,
        decided_by=event.decided_by,
        on_behalf_of=event.on_behalf_of,
        decided_at=_json(event.decided_at),
    )


def _node_cancelled(case: Case, event: NodeCancelled, actor: str | None) -> None:
    _node_by_id(case, event.node_id)["state"] = "cancelled"


def _node_overdue(case: Case, event: NodeOverdue, actor: str | None) -> None:
    _node_by_id(case, event.node_id)["overdue"] = True


def _returned(case: Case, event: CaseReturned, actor: str | None) -> None:
    case["return_comments"] = _json(event.comments)


def _resubmitted(case: Case, event: CaseResubmitted, actor: str | None) -> None:
    case.update(
        round=event.round,
        due_at=_json(event.due_at),
        missing_materials=[],
        return_comments=[],
        form=_json(event.form),
        materials=_json(event.materials),
    )


def _closed(case: Case, event: CaseClosed, actor: str | None) -> None:
    case["closed_at"] = _json(event.closed_at)


def _urged(case: Case, event: CaseUrged, actor: str | None) -> None:
    for node_id in event.node_ids:
        _node_by_id(case, node_id)["urged_at"] = _json(event.urged_at)


def _trip_recorded(case: Case, event: TripRecorded, actor: str | None) -> None:
    trip = {"at": _json(event.at), "purpose": event.purpose, "recorded_by": event.recorded_by}
    case["trips"].append(trip)


def _rated(case: Case, event: CaseRated, actor: str | None) -> None:
    case["rating"] = {"score": event.score, "comment": event.comment}


HANDLERS: dict[type[CaseEvent], Handler] = {
    CaseSubmitted: _submitted,
    CaseIntakeRejected: _intake_rejected,
    NodeOpened: _node_opened,
    NodeDecided: _node_decided,
    NodeCancelled: _node_cancelled,
    NodeOverdue: _node_overdue,
    CaseReturned: _returned,
    CaseResubmitted: _resubmitted,
    CaseApproved: _closed,
    CaseRejected: _closed,
    CaseWithdrawn: _closed,
    CaseUrged: _urged,
    TripRecorded: _trip_recorded,
    CaseRated: _rated,
}


# -- helpers ---------------------------------------------------------------------------


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


def _json(value: Any) -> Any:
    """A fresh JSON value, written as the event's published data writes it."""
    return to_jsonable_python(value)


def _unpack(event: Any) -> tuple[str, Any, str | None]:
    if isinstance(event, Mapping):
        return event["type"], event["data"], event.get("actor")
    return event.type, event.data, event.actor
