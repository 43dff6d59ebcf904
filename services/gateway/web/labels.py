"""Words shown to people: statuses, badges and event descriptions, always as text."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shared.contracts import case_events as contract
from shared.departments import DEPARTMENTS, department_name

__all__ = ["DEPARTMENTS", "department_name"]

TRIPS = {0: "一趟不用跑", 1: "最多跑一趟", 2: "跑多趟"}
TRIPS_CLASS = {0: "badge-zero", 1: "badge-one", 2: "badge-many"}

CASE_STATUS = {
    "intake_rejected": "材料不全,未受理",
    "in_review": "审批中",
    "returned": "已退回,待补正",
    "approved": "已办结(通过)",
    "rejected": "不予通过",
    "withdrawn": "已撤回",
}
NODE_STATE = {
    "waiting": "等待中",
    "pending": "待审批",
    "approved": "通过",
    "returned": "退回",
    "rejected": "不予通过",
    "cancelled": "已取消",
}
STAGE_STATE = {
    "waiting": "未开始",
    "in_review": "审批中",
    "approved": "已通过",
    "returned": "已退回",
    "rejected": "不予通过",
    "cancelled": "已取消",
}
ITEM_STATUS = {
    "draft": "草稿",
    "submitted": "已提交,待审核",
    "returned": "审核退回",
    "reviewed": "审核通过,待发布",
    "published": "已发布",
    "retired": "已下线",
}
MATERIAL_KIND = {"form": "在线填写", "file": "上传文件", "paper": "纸质材料(现场提交)"}
ON_RETURN = {
    "restart_stage": "退回后本阶段所有节点重新审批",
    "returning_node_only": "退回后仅退回节点重新审批",
}
DECISION = {"approve": "通过", "return": "退回", "reject": "不予通过"}
CHANNEL = {"sms": "短信", "email": "邮件", "inbox": "站内信"}
SERVICES = {
    "catalogue": "服务事项清单",
    "approval": "办件审批",
    "notify": "通知",
    "audit": "审计",
    "gateway": "网上办事大厅(账户)",
}
SEND_STATUS = {"pending": "待发送", "sent": "已发送", "failed": "发送失败"}

EVENTS: dict[type[contract.CaseEvent], str] = {
    contract.CaseSubmitted: "提交申请",
    contract.CaseIntakeRejected: "材料不全,未予受理",
    contract.NodeOpened: "开始审批",
    contract.NodeDecided: "作出审批决定",
    contract.NodeCancelled: "审批节点取消",
    contract.CaseReturned: "退回申请人补正",
    contract.CaseResubmitted: "补正后重新提交",
    contract.CaseApproved: "办结:审批通过",
    contract.CaseRejected: "办结:不予通过",
    contract.CaseWithdrawn: "申请人撤回",
    contract.CaseUrged: "申请人催办",
    contract.TripRecorded: "登记一次现场跑动",
    contract.NodeOverdue: "审批超期",
    contract.CaseRated: "申请人评价",
}

PYDANTIC_MESSAGES = {
    "missing": "必填",
    "string_too_short": "不能为空",
    "string_too_long": "内容过长",
    "int_parsing": "请输入整数",
    "int_type": "请输入整数",
    "greater_than_equal": "数值过小",
    "less_than_equal": "数值过大",
    "string_pattern_mismatch": "格式不正确",
    "date_from_datetime_parsing": "日期格式应为 年-月-日",
    "date_parsing": "日期格式应为 年-月-日",
    "literal_error": "不是可选的值",
    "extra_forbidden": "不认识的字段",
    "too_short": "至少需要一项",
    "too_long": "项目过多",
}

FIELDS = {
    "name": "名称",
    "description": "说明",
    "trips": "跑动次数",
    "time_limit_days": "承诺时限",
    "materials": "材料",
    "contacts": "联系人",
    "phone": "电话",
    "flow": "流程",
    "stages": "阶段",
    "nodes": "节点",
    "department": "部门",
    "item_id": "事项编号",
    "delegate": "受委托人",
    "starts_on": "开始日期",
    "ends_on": "结束日期",
    "comment": "意见",
    "score": "评分",
    "decision": "决定",
}


def trips_label(trips: int | None) -> str:
    return TRIPS.get(min(int(trips or 0), 2), "")


def trips_class(trips: int | None) -> str:
    return TRIPS_CLASS.get(min(int(trips or 0), 2), "")


def validation_message(error: dict[str, Any]) -> str:
    """A pydantic error as one Chinese line: where (in words) and what."""
    where = "".join(_field_word(part) for part in str(error.get("field", "")).split("."))
    kind = str(error.get("type", ""))
    message = str(error.get("message", ""))
    if kind == "value_error":
        what = message.removeprefix("Value error, ")
    else:
        what = PYDANTIC_MESSAGES.get(kind, message)
    return f"{where}:{what}" if where else what


def _field_word(part: str) -> str:
    if part.isdigit():
        return f"第{int(part) + 1}项"
    if part in ("body", ""):
        return ""
    return FIELDS.get(part, part)


def event_line(event: dict[str, Any]) -> str:
    """What happened at one step of a case, in words."""
    event_class = contract.CASE_EVENTS.get(str(event.get("type")))
    if event_class is None:
        return str(event.get("type"))
    case_event = event_class.model_validate(event.get("data"))
    return LINES.get(event_class, _named)(case_event)


def _named(event: contract.CaseEvent) -> str:
    return EVENTS[type(event)]


def _at_node(event: contract.NodeOpened | contract.NodeCancelled | contract.NodeOverdue) -> str:
    return f"{department_name(event.department)}:{_named(event)}"


def _decided(event: contract.NodeDecided) -> str:
    return f"{department_name(event.department)}:{DECISION[event.decision]}"


def _intake_rejected(event: contract.CaseIntakeRejected) -> str:
    return f"{_named(event)}(缺:{'、'.join(event.missing_materials)})"


LINES: dict[type[contract.CaseEvent], Callable[[Any], str]] = {
    contract.NodeDecided: _decided,
    contract.NodeOpened: _at_node,
    contract.NodeCancelled: _at_node,
    contract.NodeOverdue: _at_node,
    contract.CaseIntakeRejected: _intake_rejected,
}
"""The events told with more than their name; every case event has a name in ``EVENTS``."""


RECTIFICATION = {
    "awaiting": "待整改",
    "rectifying": "整改中",
    "done": "已整改",
    "invalid_requested": "已申请认定无效",
    "ruled_invalid": "认定为无效差评",
}
