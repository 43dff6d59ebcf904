"""The Notifications and the Audit and supervision sections of the contract."""
from __future__ import annotations

import base64
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from werkzeug.wrappers import Request, Response

from services.gateway.auth import SUPERVISOR, User, require_roles, require_staff
from services.gateway.backends import ask
from services.gateway.http import api, json_response, parse_body, parse_query

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
TAGS_NOTIFY, TAGS_AUDIT, TAGS_SUPERVISION = ["notifications"], ["audit"], ["supervision"]


class Query(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class Period(Query):
    from_: Annotated[str | None, Field(alias="from", max_length=40, description="起始日期(含), ISO 8601")] = None
    to: Annotated[str | None, Field(max_length=40, description="截止日期(含), ISO 8601")] = None


class AsOf(Query):
    as_of: Annotated[str | None, Field(max_length=40, description="回放到此时刻(ISO 8601)")] = None


class RatingsQuery(Query):
    department: Annotated[str | None, Field(max_length=20)] = None


class RectificationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    action: Literal["start", "complete", "request_invalid", "rule_invalid", "rule_valid"] = Field(
        description="start 开始整改 · complete 整改完成(需 text 回复) · request_invalid 申请认定无效评价 · "
        "rule_invalid / rule_valid 监督员裁定"
    )
    text: Annotated[str, Field(max_length=5_000)] = ""


class CheckRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    item_id: Annotated[str, Field(min_length=1, max_length=100)]
    checker: Annotated[str, Field(min_length=1, max_length=100, description="体验人(教职工或学生)")]
    trips: Annotated[int, Field(ge=0, le=50, description="实际跑动次数")]
    minutes: Annotated[int, Field(ge=0, le=100_000, description="实际耗时(分钟)")]
    findings: Annotated[str, Field(max_length=5_000)] = ""


class NotificationView(BaseModel):
    notification_id: str
    channel: Literal["sms", "email", "inbox"]
    to: str
    text: str
    status: Literal["pending", "sent", "failed"]
    case_id: str | None
    created_at: str


class NotificationList(BaseModel):
    notifications: list[NotificationView]


class MissingEvent(BaseModel):
    service: str = Field(description="发布该事件的服务")
    notification_id: int = Field(description="该服务通知日志中的序号")
    reason: str = Field(description="为何认定缺失:死信原因,或发布清单列出后逾期未到")
    type: str | None = None
    event_id: str | None = None
    since: str | None = Field(None, description="转入死信或清单列出的时间")


class DeadLetterView(BaseModel):
    dead_letter_id: str
    queue: str = Field(description="消息原所在的队列")
    consumer: str | None = Field(description="无法处理它的服务")
    service: str | None
    notification_id: int | None
    event_id: str | None
    type: str | None
    reason: str | None
    at: str


class CheckpointView(BaseModel):
    seq: int
    hash: str


class Verification(BaseModel):
    ok: bool = Field(description="哈希链完整、与已签名检查点一致,且 missing 为空")
    intact: bool = Field(description="哈希链完整且与已签名检查点一致(不论是否缺少事件)")
    entries: int
    head: str
    first_bad_seq: int | None
    reason: str | None
    checkpoint: CheckpointView | None
    missing: list[MissingEvent] = Field(description="各服务已发布而账本没有的事件")
    missing_total: int
    dead_letters: list[DeadLetterView] = Field(description="任一服务无法处理、等待重放的死信")
    dead_letters_total: int
    grace_seconds: float = Field(description="清单列出的事件在此时限内未到不算缺失")


class SupervisionRoutes:
    identity: Any
    notify: Any
    audit: Any

    def _supervisor(self, request: Request) -> User:
        return require_roles(self.identity.user(request.headers.get("Authorization")), SUPERVISOR)

    # -- notifications ------------------------------------------------------------------

    @api("GET", "/api/v1/notifications", summary="我的通知(短信、邮件、站内信)",
         response=NotificationList, tags=TAGS_NOTIFY)
    def list_notifications(self, request: Request) -> Response:
        user = self.identity.user(request.headers.get("Authorization"))
        return json_response({"notifications": ask(self.notify, "list_notifications", user.username)})

    @api("GET", "/api/v1/notifications/failed", summary="发送失败的通知(监督员)", tags=TAGS_NOTIFY)
    def failed_notifications(self, request: Request) -> Response:
        self._supervisor(request)
        return json_response({"notifications": ask(self.notify, "failed_notifications")})

    # -- audit -----------------------------------------------------------------------------

    @api("GET", "/api/v1/audit/cases/<case_id>", summary="回放办件:截至某时刻的事件与由此重建的办件",
         query=AsOf, tags=TAGS_AUDIT)
    def audit_case(self, request: Request, case_id: str) -> Response:
        self._supervisor(request)
        as_of = parse_query(request, AsOf).as_of
        return json_response(ask(self.audit, "case_history", case_id[:100], as_of))

    @api("GET", "/api/v1/audit/verify", summary="重新计算整条哈希链,并核对各服务发布的事件是否都已记入账本",
         response=Verification, tags=TAGS_AUDIT)
    def audit_verify(self, request: Request) -> Response:
        self._supervisor(request)
        return json_response(ask(self.audit, "verify"))

    # -- supervision ---------------------------------------------------------------------

    @api("GET", "/api/v1/supervision/departments", summary="各部门办件与跑动情况", query=Period,
         tags=TAGS_SUPERVISION)
    def supervision_departments(self, request: Request) -> Response:
        self._supervisor(request)
        period = parse_query(request, Period)
        return json_response(ask(self.audit, "departments", period.from_, period.to))

    @api("GET", "/api/v1/supervision/measures", summary="全校公开指标(网办率、零跑动率、按时办结率、好评率)",
         query=Period, tags=TAGS_SUPERVISION)
    def supervision_measures(self, request: Request) -> Response:
        self._supervisor(request)
        period = parse_query(request, Period)
        return json_response(ask(self.audit, "measures", period.from_, period.to))

    @api("GET", "/api/v1/supervision/report.xlsx", summary="监督报表(电子表格)", query=Period,
         tags=TAGS_SUPERVISION, content_type=XLSX)
    def supervision_report(self, request: Request) -> Response:
        self._supervisor(request)
        period = parse_query(request, Period)
        report = ask(self.audit, "report", period.from_, period.to)
        return Response(base64.b64decode(report["content_base64"]), status=200, content_type=XLSX,
                        headers={"Content-Disposition": 'attachment; filename="report.xlsx"'})

    @api("GET", "/api/v1/supervision/ratings", summary="差评及其整改", query=RatingsQuery,
         tags=TAGS_SUPERVISION)
    def supervision_ratings(self, request: Request) -> Response:
        user = require_staff(self.identity.user(request.headers.get("Authorization")))
        department = parse_query(request, RatingsQuery).department
        if SUPERVISOR not in user.roles:
            department = user.department  # a department sees its own bad reviews
        return json_response(ask(self.audit, "ratings", department))

    @api("POST", "/api/v1/supervision/ratings/<rating_id>/rectification",
         summary="差评整改:主责单位开始、完成或申请认定无效;监督员裁定", body=RectificationRequest,
         tags=TAGS_SUPERVISION)
    def rectification(self, request: Request, rating_id: str) -> Response:
        user = require_staff(self.identity.user(request.headers.get("Authorization")))
        body = parse_body(request, RectificationRequest)
        if body.action.startswith("rule_"):
            require_roles(user, SUPERVISOR)
        result = ask(self.audit, "rectify", rating_id[:200], body.action, user.username,
                     user.department, body.text)
        return json_response(result)

    @api("POST", "/api/v1/supervision/checks", summary="记录一次实际体验检查", body=CheckRequest,
         status=201, tags=TAGS_SUPERVISION)
    def record_check(self, request: Request) -> Response:
        user = self._supervisor(request)
        body = parse_body(request, CheckRequest)
        result = ask(self.audit, "record_check", user.username, body.item_id, body.checker,
                     body.trips, body.minutes, body.findings)
        return json_response(result, status=201)

    @api("GET", "/api/v1/supervision/checks", summary="实际体验检查记录", tags=TAGS_SUPERVISION)
    def list_checks(self, request: Request) -> Response:
        require_staff(self.identity.user(request.headers.get("Authorization")))
        return json_response(ask(self.audit, "checks", request.args.get("item_id")))
