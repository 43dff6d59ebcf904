"""Cases (办件) and tasks as the public HTTP API and the bus see them.

Request bodies validate what the gateway receives; ``Case`` and ``Task`` describe what
it returns. The integration events' data models below are the payloads of the approval
service's events on the bus; ``shared.casefold`` rebuilds a ``Case`` from them alone.
Every payload names the case, its item, its applicant, its lead department and the
departments concerned, because notify and audit consume them.
"""
from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from shared.contracts.envelope import SCHEMA_VERSION
from shared.inputs import Admitted, Day, WholeNumber, text_required_when

Decision = Literal["approve", "return", "reject"]
CaseStatus = Literal[
    "intake_rejected", "in_review", "returned", "approved", "rejected", "withdrawn"
]
NodeState = Literal["waiting", "pending", "approved", "returned", "rejected", "cancelled"]
StageState = Literal["waiting", "in_review", "approved", "returned", "rejected", "cancelled"]
OnReturn = Literal["restart_stage", "returning_node_only"]

OPEN_STATUSES: frozenset[str] = frozenset({"in_review", "returned", "intake_rejected"})
CLOSED_STATUSES: frozenset[str] = frozenset({"approved", "rejected", "withdrawn"})
"""A withdrawn case is closed too: nothing more happens to it, and it may be rated."""
CONCLUDED_STATUSES: frozenset[str] = CLOSED_STATUSES - {"withdrawn"}
"""Closed by the hall's decision (办结): the cases the supervision figures hold it to."""

BAD_REVIEW_MAX_SCORE = 2
"""A rating of this score or lower is a bad review (差评)."""


def is_bad_review(score: int) -> bool:
    return score <= BAD_REVIEW_MAX_SCORE

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


class Response(BaseModel):
    model_config = ConfigDict(extra="ignore")


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


# -- integration events (data of the envelope in shared.contracts.envelope) -----------


class CaseEvent(BaseModel):
    """One integration event of a case: its class is its meaning, ``event_type`` its wire
    name (the envelope's ``type``) and its fields the envelope's ``data``.

    A reader ignores fields it does not know (``docs/integration.md``, "Versions"): a field
    added later, or the new form a later ``schema_version`` adds beside the old, reads as
    this version."""

    model_config = ConfigDict(extra="ignore")

    event_type: ClassVar[str]
    schema_version: ClassVar[int] = SCHEMA_VERSION

    case_id: str
    item_id: str
    item_name: str
    applicant: str
    lead_department: str
    departments: list[str] = Field(description="本事件涉及的部门")
    at: AwareDatetime


class FlowNode(BaseModel):
    node_id: str | None = None
    department: str
    time_limit_days: int = 2


class FlowStage(BaseModel):
    name: str
    nodes: list[FlowNode] = Field(min_length=1)
    on_return: OnReturn = "restart_stage"


class PinnedFlow(BaseModel):
    stages: list[FlowStage] = Field(min_length=1)

    @model_validator(mode="after")
    def _every_node_named(self) -> PinnedFlow:
        for number, stage in enumerate(self.stages, start=1):
            for node in stage.nodes:
                node.node_id = node.node_id or f"s{number}-{node.department}"
        return self


class PinnedItem(BaseModel):
    """What a case needs of the item version it is submitted against (from ``item_published``)."""

    item_id: str
    name: str
    department: str
    lead_department: str | None = None
    version: int
    trips: int
    time_limit_days: int
    materials: list[MaterialSpec]
    flow: PinnedFlow


class CaseSubmitted(CaseEvent):
    event_type = "case_submitted"
    item_version: int
    department: str = Field(description="主责单位")
    applicant_department: str | None
    form: dict[str, Any]
    materials: dict[str, str]
    item_materials: list[MaterialSpec] = Field(description="事项要求的材料清单")
    flow: PinnedFlow
    trips: int = Field(description="承诺跑动次数")
    time_limit_days: int
    round: int = 1
    submitted_at: AwareDatetime
    due_at: AwareDatetime | None = Field(description="承诺办结时间；未通过受理时为空")


class CaseIntakeRejected(CaseEvent):
    event_type = "case_intake_rejected"
    round: int
    missing_materials: list[str]


class NodeOpened(CaseEvent):
    event_type = "node_opened"
    node_id: str
    department: str
    stage: str
    stage_index: int
    task_id: str
    round: int
    opened_at: AwareDatetime
    due_at: AwareDatetime


class NodeDecided(CaseEvent):
    event_type = "node_decided"
    node_id: str
    department: str
    task_id: str | None
    decision: Decision
    comment: str
    decided_by: str
    on_behalf_of: str | None
    decided_at: AwareDatetime


class NodeCancelled(CaseEvent):
    event_type = "node_cancelled"
    node_id: str
    department: str
    task_id: str | None
    reason: Literal["stage_returned", "case_rejected", "case_withdrawn"]


class ReturningComment(BaseModel):
    node_id: str
    department: str
    comment: str


class CaseReturned(CaseEvent):
    event_type = "case_returned"
    stage: str
    stage_index: int
    round: int
    comments: list[ReturningComment]


class CaseResubmitted(CaseEvent):
    event_type = "case_resubmitted"
    round: int
    form: dict[str, Any]
    materials: dict[str, str]
    due_at: AwareDatetime | None


class CaseClosed(CaseEvent):
    """What ``case_approved``, ``case_rejected`` and ``case_withdrawn`` each carry."""

    item_version: int
    round: int
    closed_at: AwareDatetime
    trip_count: int
    trips_promised: int


class CaseApproved(CaseClosed):
    event_type = "case_approved"


class CaseRejected(CaseClosed):
    event_type = "case_rejected"


class CaseWithdrawn(CaseClosed):
    event_type = "case_withdrawn"


class CaseUrged(CaseEvent):
    event_type = "case_urged"
    node_ids: list[str]
    urged_at: AwareDatetime


class TripRecorded(CaseEvent):
    event_type = "trip_recorded"
    purpose: str
    recorded_by: str
    department: str = Field(description="登记人所在部门")
    trip_count: int
    trips_promised: int


class NodeOverdue(CaseEvent):
    event_type = "node_overdue"
    node_id: str
    department: str
    task_id: str | None
    due_at: AwareDatetime


class CaseRated(CaseEvent):
    event_type = "case_rated"
    score: int
    comment: str
    bad_review: bool = Field(description="1、2 分为差评")


CASE_EVENTS: dict[str, type[CaseEvent]] = {
    event.event_type: event
    for event in (
        CaseSubmitted,
        CaseIntakeRejected,
        NodeOpened,
        NodeDecided,
        NodeCancelled,
        CaseReturned,
        CaseResubmitted,
        CaseApproved,
        CaseRejected,
        CaseWithdrawn,
        CaseUrged,
        TripRecorded,
        NodeOverdue,
        CaseRated,
    )
}
"""Every integration event of a case, by wire name: the one list of the case vocabulary."""


STATUS_AFTER: dict[type[CaseEvent], CaseStatus] = {
    CaseSubmitted: "in_review",
    CaseIntakeRejected: "intake_rejected",
    CaseReturned: "returned",
    CaseResubmitted: "in_review",
    CaseApproved: "approved",
    CaseRejected: "rejected",
    CaseWithdrawn: "withdrawn",
}
"""The status a case has right after each event that changes it."""


class UnknownCaseEventError(ValueError):
    pass


def case_event(event_type: str, data: Any) -> CaseEvent:
    """The typed event a wire ``type`` and ``data`` stand for."""
    model = CASE_EVENTS.get(event_type)
    if model is None:
        raise UnknownCaseEventError(f"not a case event: {event_type}")
    return model.model_validate(data)
