"""The seed's example item, a settable clock and small helpers for the approval tests."""
from __future__ import annotations

import copy
import json
from datetime import datetime, timedelta
from typing import Any

from services.approval.application import ApprovalApplication

IN_MEMORY = {"PERSISTENCE_MODULE": "eventsourcing.popo"}
PARALLEL_DEPARTMENTS = ["gzc", "jjc", "xxh", "hq", "bwc", "bmc"]
RENOVATION = "gongfang-zhuangxiu"
FORM = {"申请单位": "航空学院", "房间": "航空楼 305", "改造内容": "更换隔墙、重新布线"}
BEFORE_DRAWING, DESIGN_DRAWING = "file-before-li", "file-design-li"
LI_FILES = {BEFORE_DRAWING, DESIGN_DRAWING}
MATERIAL_KINDS = [("审批表", "form"), ("改造前结构图", "file"), ("本次结构设计图", "file")]
COMPLETE_MATERIALS = {"改造前结构图": BEFORE_DRAWING, "本次结构设计图": DESIGN_DRAWING}


def renovation_item(version: int = 1, on_return: str = "restart_stage") -> dict[str, Any]:
    """公房装修改造申请 as the catalogue publishes it in ``item_published``."""
    return {
        "item_id": RENOVATION,
        "name": "公房装修改造申请",
        "department": "gzc",
        "lead_department": "gzc",
        "status": "published",
        "version": version,
        "trips": 0,
        "mode": "online",
        "description": (
            "教师个人或单位对公用房进行装修改造,需提交申请并经有关部门审核通过后才可进行。"
        ),
        "time_limit_days": 10,
        "materials": [
            {"name": name, "kind": kind, "required": True, "template": "", "notes": ""}
            for name, kind in MATERIAL_KINDS
        ],
        "flow": {
            "stages": [
                {
                    "name": "并行审批",
                    "on_return": on_return,
                    "nodes": [
                        {"node_id": code, "department": code, "time_limit_days": 2}
                        for code in PARALLEL_DEPARTMENTS
                    ],
                },
                {
                    "name": "经费核算",
                    "on_return": "restart_stage",
                    "nodes": [{"node_id": "cwc", "department": "cwc", "time_limit_days": 2}],
                },
            ]
        },
    }


class Clock:
    def __init__(self, start: datetime) -> None:
        self.moment = start

    def now(self) -> datetime:
        return self.moment

    def advance(self, **delta: float) -> datetime:
        self.moment += timedelta(**delta)
        return self.moment


def submit_complete(app: ApprovalApplication, clock: Clock, **overrides: Any) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "applicant": "teacher1",
        "applicant_department": "hkxy",
        "item_id": RENOVATION,
        "form": copy.deepcopy(FORM),
        "materials": dict(COMPLETE_MATERIALS),
        "own_files": LI_FILES,
        "now": clock.now(),
    }
    arguments.update(overrides)
    return app.submit(**arguments)


def decide(
    app: ApprovalApplication,
    clock: Clock,
    case: dict[str, Any],
    department: str,
    decision: str = "approve",
    comment: str = "",
) -> dict[str, Any]:
    clock.advance(minutes=5)
    return app.decide(
        case["case_id"],
        department,
        decision=decision,
        comment=comment,
        actor=department,
        actor_department=department,
        actor_roles=["approver"],
        now=clock.now(),
    )


def returned_by_bwc(app: ApprovalApplication, clock: Clock) -> dict[str, Any]:
    case = submit_complete(app, clock)
    for department in ["gzc", "jjc", "xxh", "hq", "bmc"]:
        case = decide(app, clock, case, department)
    return decide(app, clock, case, "bwc", "return", "请补充消防通道示意图")


def pending(case: dict[str, Any]) -> list[str]:
    return [node["node_id"] for node in nodes(case) if node["state"] == "pending"]


def nodes(case: dict[str, Any]) -> list[dict[str, Any]]:
    return [node for stage in case["stages"] for node in stage["nodes"]]


def node(case: dict[str, Any], node_id: str) -> dict[str, Any]:
    return next(each for each in nodes(case) if each["node_id"] == node_id)


def published(app: ApprovalApplication, case_id: str) -> list[dict[str, Any]]:
    """The case's integration events exactly as the bus carries them (JSON round trip)."""
    notifications = app.recorder.select_notifications(1, 10_000)
    events = (app.integration_event(notification) for notification in notifications)
    wire = [json.loads(json.dumps(event.to_wire())) for event in events if event is not None]
    return [event for event in wire if event["data"].get("case_id") == case_id]
