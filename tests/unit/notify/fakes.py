"""The demo accounts of the contract's demo data, as a directory the notify rules can ask."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from services.notify.directory import Contact
from shared.contracts import IntegrationEvent

DEMO = (
    ("teacher1", "李老师", "hkxy", "applicant", "13800000001"),
    ("teacher2", "王老师", "hkxy", "applicant", "13800000002"),
    ("student1", "张同学", "hkxy", "applicant", "13800000003"),
    ("gzc", "国资处审批员", "gzc", "approver,editor", "13900000001"),
    ("jjc", "基建处审批员", "jjc", "approver,editor", "13900000002"),
    ("xxh", "信息化处审批员", "xxh", "approver,editor", "13900000003"),
    ("hq", "后勤集团审批员", "hq", "approver,editor", "13900000004"),
    ("bwc", "保卫处审批员", "bwc", "approver,editor", "13900000005"),
    ("bmc", "保密处审批员", "bmc", "approver,editor", "13900000006"),
    ("cwc", "财务处审批员", "cwc", "approver,editor", "13900000007"),
    ("office", "学校办公室审核员", "xb", "reviewer", "13900000008"),
    ("party", "机关党委发布员", "jgdw", "publisher", "13900000009"),
    ("discipline", "纪委办公室监督员", "jw", "supervisor", "13900000010"),
    ("admin", "系统管理员", "xxh", "admin", "13900000011"),
)
CASE_ID = "5f0c1d9e-8a4b-4c2e-9f1a-3b2d6e7c8a90"
ITEM = {"item_id": "gongfang-zhuangxiu", "item_name": "公房装修改造申请"}


class FakeDirectory:
    def __init__(self, emails: dict[str, str] | None = None):
        self.roles = {username: set(roles.split(",")) for username, *_, roles, _ in DEMO}
        self.contacts = {
            username: Contact(username, name, department, phone, (emails or {}).get(username))
            for username, name, department, _, phone in DEMO
        }
        self.asked: list[tuple[str, ...]] = []

    def contact(self, username: str) -> Contact | None:
        self.asked.append(("contact", username))
        return self.contacts.get(username)

    def department_members(self, department: str, role: str | None = None) -> list[str]:
        self.asked.append(("members", department, role or ""))
        return sorted(
            username
            for username, contact in self.contacts.items()
            if contact.department == department and (role is None or role in self.roles[username])
        )


def case_event(event_type: str, number: int = 1, **data: Any) -> IntegrationEvent:
    body = {
        "case_id": CASE_ID,
        **ITEM,
        "applicant": "teacher1",
        "lead_department": "gzc",
        "departments": ["gzc"],
        "at": "2026-11-27T10:00:00+08:00",
        **data,
    }
    return IntegrationEvent.build(
        type=event_type,
        service="approval",
        aggregate_id=CASE_ID,
        aggregate_version=number,
        notification_id=number,
        occurred_at=datetime(2026, 11, 27, 2, 0, tzinfo=UTC),
        actor="teacher1",
        data=body,
    )


def item_event(event_type: str, number: int = 1, **data: Any) -> IntegrationEvent:
    return IntegrationEvent.build(
        type=event_type,
        service="catalogue",
        aggregate_id="item-bwc-draft",
        aggregate_version=number,
        notification_id=number,
        occurred_at=datetime(2026, 11, 27, 2, 0, tzinfo=UTC),
        actor="office",
        data={"item_id": "baowei-dengji", "department": "bwc", "lead_department": None, **data},
    )


EXAMPLES: dict[str, dict[str, Any]] = {
    "case_intake_rejected": {"round": 1, "missing_materials": ["改造前结构图", "本次结构设计图"]},
    "case_returned": {
        "stage": "并行审批",
        "stage_index": 0,
        "round": 2,
        "comments": [
            {"node_id": "s1-bwc", "department": "bwc", "comment": "请补充消防通道的设计说明"},
            {"node_id": "s1-hq", "department": "hq", "comment": "施工时间请避开教学时段"},
        ],
    },
    "case_approved": {
        "item_version": 1, "round": 2, "closed_at": "2026-12-04T10:00:00+08:00",
        "trip_count": 0, "trips_promised": 0,
    },
    "case_rejected": {
        "item_version": 1, "round": 1, "closed_at": "2026-12-04T10:00:00+08:00",
        "trip_count": 0, "trips_promised": 0,
    },
    "case_withdrawn": {
        "item_version": 1, "round": 1, "closed_at": "2026-12-04T10:00:00+08:00",
        "trip_count": 0, "trips_promised": 0,
    },
    "node_opened": {
        "node_id": "s1-jjc",
        "department": "jjc",
        "departments": ["jjc"],
        "stage": "并行审批",
        "stage_index": 0,
        "task_id": "t-1",
        "round": 1,
        "opened_at": "2026-11-27T10:00:00+08:00",
        "due_at": "2026-12-01T10:00:00+08:00",
    },
    "case_urged": {"node_ids": ["s1-bwc", "s1-hq"], "departments": ["bwc", "hq"], "urged_at": "2026-11-30T09:00:00+08:00"},
    "node_overdue": {
        "node_id": "s1-bwc",
        "department": "bwc",
        "departments": ["bwc"],
        "task_id": "t-2",
        "due_at": "2026-12-01T10:00:00+08:00",
    },
}
ITEM_EXAMPLES: dict[str, dict[str, Any]] = {
    "item_returned": {"comment": "办理时限请按工作日填写，材料清单缺少样表"},
    "item_reviewed": {"comment": "", "lead_department": "bwc"},
}
