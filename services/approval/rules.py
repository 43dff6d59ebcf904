"""The approval rules that need no case history: what intake requires, how a task is named,
which nodes a stage reopens, when a node was last urged. Pure functions of plain data."""
from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import date, datetime
from typing import Any

from shared.contracts.case_events import CaseSubmitted
from shared.errors import InvalidError, NotFoundError
from shared.workdays import in_shanghai

Node = dict[str, Any]
Stage = dict[str, Any]

DECISIONS = ("approve", "return", "reject")


def missing_materials(
    specs: Collection[Mapping[str, Any]],
    form: Mapping[str, Any],
    materials: Mapping[str, str],
    own_files: Collection[str],
) -> list[str]:
    """Every required material not supplied, and every one naming a file not the caller's."""
    missing = [spec["name"] for spec in specs if _unsatisfied(spec, form, materials, own_files)]
    foreign = [name for name, file_id in materials.items() if file_id not in own_files]
    return list(dict.fromkeys(missing + foreign))


def _unsatisfied(
    spec: Mapping[str, Any],
    form: Mapping[str, Any],
    materials: Mapping[str, str],
    own_files: Collection[str],
) -> bool:
    if not spec.get("required", True):
        return False
    if spec["kind"] == "form":
        return not any(_filled(value) for value in form.values())
    if spec["kind"] == "file":
        return materials.get(spec["name"]) not in own_files
    return False


def _filled(value: Any) -> bool:
    return value not in (None, "", [], {})


def task_id_for(case_id: str, node_id: str, round_: int) -> str:
    return f"{case_id}.{node_id}.{round_}"


def parse_task_id(task_id: str) -> tuple[str, str, int]:
    case_id, _, rest = task_id.partition(".")
    node_id, _, round_ = rest.rpartition(".")
    if not (case_id and node_id and round_.isdigit()):
        raise NotFoundError(f"没有这个待办：{task_id}")
    return case_id, node_id, int(round_)


def lead_department_of(item: Mapping[str, Any]) -> str:
    return str(item.get("lead_department") or item["department"])


def check_decision(decision: str, comment: str) -> None:
    if decision not in DECISIONS:
        raise InvalidError("审批意见只能是通过、退回或不予通过")
    if decision != "approve" and not comment.strip():
        raise InvalidError("退回或不予通过时必须填写意见")


def nodes_to_open(stage: Stage) -> list[Node]:
    if stage["on_return"] == "restart_stage":
        return list(stage["nodes"])
    return [node for node in stage["nodes"] if node["state"] != "approved"]


def returning_comments(stage: Stage) -> list[dict[str, str]]:
    return [
        {key: node[key] for key in ("node_id", "department", "comment")}
        for node in stage["nodes"]
        if node["state"] == "returned"
    ]


def urged_on(node: Node, day: date) -> bool:
    urged_at = node["urged_at"]
    return urged_at is not None and in_shanghai(datetime.fromisoformat(urged_at)).date() == day


def departments_of_nodes(nodes: Collection[Node]) -> list[str]:
    return list(dict.fromkeys(node["department"] for node in nodes))


def flow_departments(lead: str, flow: Mapping[str, Any]) -> list[str]:
    nodes = [node for stage in flow["stages"] for node in stage["nodes"]]
    return list(dict.fromkeys([lead, *(node["department"] for node in nodes)]))


def current_stage_index(case: Mapping[str, Any]) -> int | None:
    for index, stage in enumerate(case["stages"]):
        if stage["state"] != "approved":
            return index
    return None


def stage_index_of(case: Mapping[str, Any], node_id: str) -> int:
    for index, stage in enumerate(case["stages"]):
        if any(node["node_id"] == node_id for node in stage["nodes"]):
            return index
    raise NotFoundError(f"办件中没有这个审批环节：{node_id}")


def submission(
    item: Mapping[str, Any], now: datetime, due_at: datetime | None, **case: Any
) -> CaseSubmitted:
    """A new case (its id, applicant, form and materials) against the item version it is
    pinned to; ``due_at`` is None when intake fails."""
    lead = lead_department_of(item)
    return CaseSubmitted(
        item_id=item["item_id"],
        item_name=item["name"],
        lead_department=lead,
        departments=flow_departments(lead, item["flow"]),
        at=now,
        item_version=item["version"],
        department=lead,
        item_materials=item["materials"],
        flow=item["flow"],
        trips=item["trips"],
        time_limit_days=item["time_limit_days"],
        submitted_at=now,
        due_at=due_at,
        **case,
    )
