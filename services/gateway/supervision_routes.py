"""The Notifications and the Audit and supervision sections of the contract."""
from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from werkzeug.wrappers import Request, Response

from services.gateway.auth import User, admitted
from services.gateway.base import Gateway
from services.gateway.http import api, json_response, parse_body, parse_query
from services.gateway.models import CheckRequest, RectificationRequest
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
from shared.inputs import Admitted

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


class SupervisionRoutes(Gateway):
    def _supervisor(self, request: Request, action: Callable[..., Any]) -> User:
        return admitted(self._user(request), action)

    # -- notifications ------------------------------------------------------------------

    @api("GET", "/api/v1/notifications", summary="我的通知(短信、邮件、站内信)",
         response=NotificationList, tags=TAGS_NOTIFY)
    def list_notifications(self, request: Request) -> Response:
        return json_response({"notifications": self.oversight.notifications(self._user(request))})

    @api("GET", "/api/v1/notifications/failed", summary="发送失败的通知(监督员)",
         response=NotificationList, tags=TAGS_NOTIFY)
    def failed_notifications(self, request: Request) -> Response:
        failed = self.oversight.failed_notifications(self._user(request))
        return json_response({"notifications": failed})

    # -- audit -----------------------------------------------------------------------------

    @api("GET", "/api/v1/audit/cases/<case_id>", summary="回放办件:截至某时刻的事件与由此重建的办件",
         query=AsOf, response=CaseHistory, tags=TAGS_AUDIT)
    def audit_case(self, request: Request, case_id: str) -> Response:
        user = self._supervisor(request, self.oversight.case_history)
        as_of = parse_query(request, AsOf).as_of
        return json_response(self.oversight.case_history(user, case_id, as_of))

    @api("GET", "/api/v1/audit/verify", summary="重新计算整条哈希链,并核对各服务发布的事件是否都已记入账本",
         response=Verification, tags=TAGS_AUDIT)
    def audit_verify(self, request: Request) -> Response:
        return json_response(self.oversight.verify(self._user(request)))

    # -- supervision ---------------------------------------------------------------------

    def _figures(self, request: Request, action: Callable[..., Any]) -> Any:
        """A figure over the period the query names (``?from=&to=``)."""
        user = self._supervisor(request, action)
        period = parse_query(request, Period)
        return action(user, period.from_, period.to)

    @api("GET", "/api/v1/supervision/departments", summary="各部门办件与跑动情况", query=Period,
         response=DepartmentReport, tags=TAGS_SUPERVISION)
    def supervision_departments(self, request: Request) -> Response:
        return json_response(self._figures(request, self.oversight.departments))

    @api("GET", "/api/v1/supervision/measures", summary="全校公开指标(网办率、零跑动率、按时办结率、好评率)",
         query=Period, response=SchoolMeasures, tags=TAGS_SUPERVISION)
    def supervision_measures(self, request: Request) -> Response:
        return json_response(self._figures(request, self.oversight.measures))

    @api("GET", "/api/v1/supervision/report.xlsx", summary="监督报表(电子表格)", query=Period,
         tags=TAGS_SUPERVISION, content_type=XLSX)
    def supervision_report(self, request: Request) -> Response:
        report = self._figures(request, self.oversight.report)
        return Response(base64.b64decode(report["content_base64"]), status=200, content_type=XLSX,
                        headers={"Content-Disposition": 'attachment; filename="report.xlsx"'})

    @api("GET", "/api/v1/supervision/ratings", summary="差评及其整改", query=RatingsQuery,
         response=RatingList, tags=TAGS_SUPERVISION)
    def supervision_ratings(self, request: Request) -> Response:
        user = self._supervisor(request, self.oversight.ratings)
        department = parse_query(request, RatingsQuery).department
        return json_response(self.oversight.ratings(user, department))

    @api("POST", "/api/v1/supervision/ratings/<rating_id>/rectification",
         summary="差评整改:主责单位开始、完成或申请认定无效;监督员裁定", body=RectificationRequest,
         response=RatingReview, tags=TAGS_SUPERVISION, errors=(409,))
    def rectification(self, request: Request, rating_id: str) -> Response:
        user = self._supervisor(request, self.oversight.rectify)
        body = parse_body(request, RectificationRequest)
        return json_response(self.oversight.rectify(user, rating_id, body))

    @api("POST", "/api/v1/supervision/checks", summary="记录一次实际体验检查", body=CheckRequest,
         response=ExperienceCheck, status=201, tags=TAGS_SUPERVISION, errors=(404,))
    def record_check(self, request: Request) -> Response:
        user = self._supervisor(request, self.oversight.record_check)
        body = parse_body(request, CheckRequest)
        return json_response(self.oversight.record_check(user, body), status=201)

    @api("GET", "/api/v1/supervision/checks", summary="实际体验检查记录", query=ChecksQuery,
         response=CheckList, tags=TAGS_SUPERVISION)
    def list_checks(self, request: Request) -> Response:
        user = self._supervisor(request, self.oversight.checks)
        return json_response(self.oversight.checks(user, parse_query(request, ChecksQuery).item_id))
