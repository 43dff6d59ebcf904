"""Cases (办件) and tasks as the public HTTP API sees them.

Request bodies validate what the gateway receives; ``Case`` and ``Task`` describe what it
returns. The events a case publishes on the bus are ``shared.contracts.case_events``.
"""
from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.contracts.answers import Response
from shared.inputs import Admitted, Day, WholeNumber, text_required_when

Decision = Literal["approve", "return", "reject"]
CaseStatus = Literal[
    "intake_rejected", "in_review", "returned", "approved", "rejected", "withdrawn"
]
NodeState = Literal["waiting", "pending", "approved", "returned", "rejected", "cancelled"]
StageState = Literal["waiting", "in_review", "approved", "returned", "rejected", "cancelled"]
OnReturn = Literal["restart_stage", "returning_node_only"]

Comment = Annotated[str, Field(max_length=2_000)]
FileId = Annotated[str, Field(min_length=1, max_length=200)]
MaterialName = Annotated[str, Field(min_length=1, max_length=200)]


# -- HTTP request bodies ---------------------------------------------------------------


class Request(Admitted):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


CASE_PAGE_MAX = 200
CASE_OFFSET_MAX = 1_000_000_000


class CasePage(Request):
    """Which of the caller's cases to list, newest first: ``limit`` from ``offset``."""

    limit: Annotated[int, Field(ge=1, le=CASE_PAGE_MAX), WholeNumber] | None = None
    offset: Annotated[int, Field(ge=0, le=CASE_OFFSET_MAX), WholeNumber] = 0


class CaseSubmission(Request):
    item_id: Annotated[str, Field(min_length=1, max_length=100)]
    form: dict[str, Any] = Field(default_factory=dict, description="在线表单内容")
    materials: dict[MaterialName, FileId] = Field(
        default_factory=dict, description="材料名称 → 已上传文件的 file_id"
    )


class Resubmission(Request):
    form: dict[str, Any] | None = Field(default=None, description="不填则沿用上次的表单")
    materials: dict[MaterialName, FileId] | None = Field(
        default=None, description="与上次的材料合并，同名的以本次为准"
    )


class DecisionRequest(Request):
    model_config = ConfigDict(
        json_schema_extra=text_required_when("decision", ["return", "reject"], "comment")
    )

    decision: Decision
    comment: Comment = ""

    @model_validator(mode="after")
    def _comment_for_return_and_reject(self) -> DecisionRequest:
        if self.decision != "approve" and not self.comment:
            raise ValueError("退回或不予通过时必须填写意见")
        return self


class TripRequest(Request):
    purpose: Annotated[str, Field(min_length=1, max_length=500)]


class RatingRequest(Request):
    score: Annotated[int, Field(ge=1, le=5), WholeNumber]
    comment: Comment = ""


class DelegationRequest(Request):
    delegate: Annotated[str, Field(min_length=1, max_length=100, description="受委托人用户名")]
    starts_on: Day
    ends_on: Day

    @model_validator(mode="after")
    def _range_in_order(self) -> DelegationRequest:
        if self.ends_on < self.starts_on:
            raise ValueError("委托的结束日期不能早于开始日期")
        return self


# -- HTTP responses ----------------------------------------------------------------------


class NodeView(Response):
    node_id: str
    department: str
    state: NodeState
    comment: str | None
    decided_by: str | None
    decided_at: str | None
    on_behalf_of: str | None = None
    task_id: str | None = None
    opened_at: str | None = None
    due_at: str | None = None
    overdue: bool = False
    urged_at: str | None = None
    time_limit_days: int | None = None


class StageView(Response):
    name: str
    state: StageState
    on_return: OnReturn = "restart_stage"
    nodes: list[NodeView]


class TripView(Response):
    at: str
    purpose: str
    recorded_by: str | None


class RatingView(Response):
    score: int
    comment: str


class MaterialSpec(BaseModel):
    name: str
    kind: Literal["form", "file", "paper"]
    required: bool = True


class ReturnComment(Response):
    node_id: str | None = None
    department: str
    comment: str


class Case(Response):
    case_id: str
    item_id: str
    item_version: int
    applicant: str
    status: CaseStatus
    submitted_at: str
    due_at: str | None
    missing_materials: list[str]
    round: int
    stages: list[StageView]
    trips: list[TripView]
    rating: RatingView | None
    item_name: str = ""
    department: str = ""
    applicant_department: str | None = None
    closed_at: str | None = None
    form: dict[str, Any] = Field(default_factory=dict)
    materials: dict[str, str] = Field(default_factory=dict)
    trips_promised: int | None = None
    time_limit_days: int | None = None
    item_materials: list[MaterialSpec] = Field(default_factory=list)
    return_comments: list[ReturnComment] = Field(default_factory=list)


class CaseList(Response):
    cases: list[Case]
    total: int | None = Field(default=None, description="调用者可见的办件总数")
    limit: int | None = None
    offset: int = 0


class Task(Response):
    task_id: str
    case_id: str
    node_id: str
    item_id: str
    item_name: str
    department: str
    applicant: str
    created_at: str
    due_at: str | None


class TaskList(Response):
    tasks: list[Task]
