"""The Notifications and the Audit and supervision sections of the contract."""
from __future__ import annotations

import base64
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from werkzeug.wrappers import Request, Response

from services.gateway.auth import SUPERVISOR, User, require_roles, require_staff
from services.gateway.backends import ask
from services.gateway.http import api, json_response, parse_body, parse_query
from shared.contracts.audit import (
    CaseHistory,
    CheckList,
    DepartmentReport,
    ExperienceCheck,
    RatingList,
    RatingReview,
    SchoolMeasures,
    Verification,
)
from shared.inputs import Admitted, WholeNumber, text_required_when

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
TAGS_NOTIFY, TAGS_AUDIT, TAGS_SUPERVISION = ["notifications"], ["audit"], ["supervision"]


class Query(Admitted):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


def iso_moment(text: str) -> str:
    """A date or a moment as the audit service reads it (``datetime.fromisoformat``)."""
    try:
        datetime.fromisoformat(text)
    except ValueError:
        raise ValueError("请用 ISO 8601 日期或时间,如 2026-11-27 或 2026-11-27T10:00:00+08:00") from None
    return text


Moment = Annotated[
    str,
    AfterValidator(iso_moment),
    Field(max_length=40, json_schema_extra={"anyOf": [{"format": "date"}, {"format": "date-time"}]}),
]


class Period(Query):
    from_: Annotated[Moment | None, Field(alias="from", description="起始时间(含)")] = None
    to: Annotated[Moment | None, Field(description="截止时间(不含),须晚于起始时间")] = None


class AsOf(Query):
    as_of: Annotated[Moment | None, Field(description="回放到此时刻")] = None


class RatingsQuery(Query):
    department: Annotated[str | None, Field(max_length=20)] = None


class ChecksQuery(Query):
    item_id: Annotated[str | None, Field(max_length=100, description="只看这一事项")] = None


class RectificationRequest(Admitted):
    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra=text_required_when("action", ["complete", "request_invalid"], "text"),
    )
    action: Literal["start", "complete", "request_invalid", "rule_invalid", "rule_valid"] = Field(
        description="start 开始整改 · complete 整改完成(需 text 回复) · request_invalid 申请认定无效评价 · "
        "rule_invalid / rule_valid 监督员裁定"
    )
    text: Annotated[str, Field(max_length=5_000)] = ""


class CheckRequest(Admitted):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    item_id: Annotated[str, Field(min_length=1, max_length=100)]
    checker: Annotated[str, Field(min_length=1, max_length=100, description="体验人(教职工或学生)")]
    trips: Annotated[int, Field(ge=0, le=50, description="实际跑动次数"), WholeNumber]
    minutes: Annotated[int, Field(ge=0, le=100_000, description="实际耗时(分钟)"), WholeNumber]
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

    @api("GET", "/api/v1/notifications/failed", summary="发送失败的通知(监督员)",
         response=NotificationList, tags=TAGS_NOTIFY)
    def failed_notifications(self, request: Request) -> Response:
        self._supervisor(request)
        return json_response({"notifications": ask(self.notify, "failed_notifications")})

    # -- audit -----------------------------------------------------------------------------

    @api("GET", "/api/v1/audit/cases/<case_id>", summary="回放办件:截至某时刻的事件与由此重建的办件",
         query=AsOf, response=CaseHistory, tags=TAGS_AUDIT)
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
         response=DepartmentReport, tags=TAGS_SUPERVISION)
    def supervision_departments(self, request: Request) -> Response:
        self._supervisor(request)
        period = parse_query(request, Period)
        return json_response(ask(self.audit, "departments", period.from_, period.to))

    @api("GET", "/api/v1/supervision/measures", summary="全校公开指标(网办率、零跑动率、按时办结率、好评率)",
         query=Period, response=SchoolMeasures, tags=TAGS_SUPERVISION)
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
         response=RatingList, tags=TAGS_SUPERVISION)
    def supervision_ratings(self, request: Request) -> Response:
        user = require_staff(self.identity.user(request.headers.get("Authorization")))
        department = parse_query(request, RatingsQuery).department
        if SUPERVISOR not in user.roles:
            department = user.department  # a department sees its own bad reviews
        return json_response(ask(self.audit, "ratings", department))

    @api("POST", "/api/v1/supervision/ratings/<rating_id>/rectification",
         summary="差评整改:主责单位开始、完成或申请认定无效;监督员裁定", body=RectificationRequest,
         response=RatingReview, tags=TAGS_SUPERVISION, errors=(409,))
    def rectification(self, request: Request, rating_id: str) -> Response:
        user = require_staff(self.identity.user(request.headers.get("Authorization")))
        body = parse_body(request, RectificationRequest)
        if body.action.startswith("rule_"):
            require_roles(user, SUPERVISOR)
        result = ask(self.audit, "rectify", rating_id[:200], body.action, user.username,
                     user.department, body.text)
        return json_response(result)

    @api("POST", "/api/v1/supervision/checks", summary="记录一次实际体验检查", body=CheckRequest,
         response=ExperienceCheck, status=201, tags=TAGS_SUPERVISION, errors=(404,))
    def record_check(self, request: Request) -> Response:
        user = self._supervisor(request)
        body = parse_body(request, CheckRequest)
        result = ask(self.audit, "record_check", user.username, body.item_id, body.checker,
                     body.trips, body.minutes, body.findings)
        return json_response(result, status=201)

    @api("GET", "/api/v1/supervision/checks", summary="实际体验检查记录", query=ChecksQuery,
         response=CheckList, tags=TAGS_SUPERVISION)
    def list_checks(self, request: Request) -> Response:
        require_staff(self.identity.user(request.headers.get("Authorization")))
        return json_response(ask(self.audit, "checks", parse_query(request, ChecksQuery).item_id))
