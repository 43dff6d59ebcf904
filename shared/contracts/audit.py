"""Audit and supervision as the public HTTP API answers them (replay, verify, the dashboard's
figures, bad reviews and experience checks). The OpenAPI document is generated from these, so a
client (and the API fuzzer) can check every answer; fields may be added, never renamed."""
from __future__ import annotations

from typing import Any

from pydantic import Field

from shared.contracts.answers import Response
from shared.contracts.approval import Case


class LedgerEntry(Response):
    seq: int
    type: str
    at: str
    actor: str | None
    data: dict[str, Any]
    hash: str
    prev_hash: str
    service: str | None = None
    event_id: str | None = None
    aggregate_id: str | None = None
    aggregate_version: int | None = None


class CaseHistory(Response):
    case_id: str
    as_of: str | None = None
    events: list[LedgerEntry]
    state: Case | None = Field(description="由这些事件重建的办件;尚无受理事件时为空")
    intact: bool | None = Field(default=None, description="每条记录的哈希是否与内容相符")


class Checkpoint(Response):
    seq: int
    hash: str


class MissingEvent(Response):
    service: str = Field(description="发布该事件的服务")
    notification_id: int = Field(description="该服务通知日志中的序号")
    reason: str = Field(description="为何认定缺失:死信原因,或发布清单列出后逾期未到")
    type: str | None = None
    event_id: str | None = None
    since: str | None = Field(None, description="转入死信或清单列出的时间")


class DeadLetterView(Response):
    dead_letter_id: str
    queue: str = Field(description="消息原所在的队列")
    consumer: str | None = Field(description="无法处理它的服务")
    service: str | None
    notification_id: int | None
    event_id: str | None
    type: str | None
    reason: str | None
    at: str


class Verification(Response):
    ok: bool = Field(description="哈希链完整、与已签名检查点一致,且 missing 为空")
    intact: bool = Field(description="哈希链完整且与已签名检查点一致(不论是否缺少事件)")
    entries: int
    head: str
    first_bad_seq: int | None
    reason: str | None
    checkpoint: Checkpoint | None
    missing: list[MissingEvent] = Field(default=[], description="各服务已发布而账本没有的事件")
    missing_total: int
    dead_letters: list[DeadLetterView] = Field(description="任一服务无法处理、等待重放的死信")
    dead_letters_total: int
    grace_seconds: float = Field(description="清单列出的事件在此时限内未到不算缺失")


class DepartmentFigures(Response):
    department: str
    cases: int
    closed: int
    approved: int
    returns: int
    overdue: int
    median_hours: float | None
    trips_per_case: float | None
    one_trip_rate: float | None
    rating_avg: float | None
    bad_reviews: int
    open_rectifications: int


class DepartmentReport(Response):
    departments: list[DepartmentFigures]


class SchoolMeasures(Response):
    items_published: int
    online_rate: float | None
    cases: int
    closed: int
    zero_trip_rate: float | None
    one_trip_rate: float | None
    deadline_compliance: float | None
    good_rating_rate: float | None
    bad_reviews: int
    open_rectifications: int




class Rectification(Response):
    status: str
    deadline: str | None
    overdue: bool
    reply: str | None
    invalid_reason: str | None
    ruling: str | None
    history: list[dict[str, Any]]


class RatingReview(Response):
    rating_id: str
    case_id: str
    item_id: str | None
    item_name: str | None
    department: str
    applicant: str | None
    score: int
    comment: str | None
    rated_at: str
    rectification: Rectification


class RatingList(Response):
    ratings: list[RatingReview]


class ExperienceCheck(Response):
    check_id: str
    item_id: str
    checker: str
    trips: int
    minutes: int
    findings: str
    recorded_by: str
    at: str
    trips_promised: int | None = None
    item_name: str | None = None


class ItemChecks(Response):
    item_id: str
    name: str | None
    department: str | None
    trips_promised: int | None
    checks: list[ExperienceCheck]


class CheckList(Response):
    items: list[ItemChecks]
