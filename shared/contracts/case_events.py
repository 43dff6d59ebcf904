"""The case vocabulary: every integration event a case publishes, declared once.

Each class is one event: its ``event_type`` the wire name (the envelope's ``type``), its
fields the envelope's ``data``, its ``schema_version`` the envelope's. The approval service's
``Case`` aggregate records them themselves, and ``shared.casefold`` rebuilds a ``Case`` from
them alone. Every event names the case, its item, its applicant, its lead department and the
departments concerned, because notify and audit consume them.

To add a case event: declare its class here and list it in ``CASE_EVENTS``; record it from a
command of ``services.approval.case.Case``; fold it in ``shared.casefold.HANDLERS``; then give
every other consumer a handler or list it as ignored (the approval inbox, audit's supervision
facts, notify's rules with their templates, the page labels):
``tests/unit/shared/test_case_vocabulary.py`` names any that has not.
"""
from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from shared.contracts.approval import CaseStatus, Decision, MaterialSpec, OnReturn
from shared.contracts.envelope import SCHEMA_VERSION

OPEN_STATUSES: frozenset[str] = frozenset({"in_review", "returned", "intake_rejected"})
CLOSED_STATUSES: frozenset[str] = frozenset({"approved", "rejected", "withdrawn"})
"""A withdrawn case is closed too: nothing more happens to it, and it may be rated."""
CONCLUDED_STATUSES: frozenset[str] = CLOSED_STATUSES - {"withdrawn"}
"""Closed by the hall's decision (办结): the cases the supervision figures hold it to."""

BAD_REVIEW_MAX_SCORE = 2
"""A rating of this score or lower is a bad review (差评)."""


def is_bad_review(score: int) -> bool:
    return score <= BAD_REVIEW_MAX_SCORE


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
