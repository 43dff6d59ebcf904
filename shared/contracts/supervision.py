"""The events the audit service publishes: a bad review's rectification and the experience
checks (实际体验检查) of an item.

Each carries ``aggregate`` (the rectification's or the item's checks' stream id) beside the
fields of its step. ``at`` is the moment of the step as ISO 8601 text.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class SupervisionEventData(BaseModel):
    model_config = ConfigDict(extra="ignore")  # a reader ignores what it does not know

    aggregate: str = Field(description="整改或体验检查记录的流标识")


class RectificationOpened(SupervisionEventData):
    case_id: str
    item_id: str
    item_name: str
    department: str = Field(description="负责整改的主责单位")
    applicant: str
    score: int = Field(ge=1, le=5)
    comment: str
    rated_at: str
    deadline: str = Field(description="整改期限（工作日推算）")


class RectificationStep(SupervisionEventData):
    actor: str
    at: str


class RectificationCompleted(RectificationStep):
    reply: str


class RectificationInvalidRequested(RectificationStep):
    reason: str


class RectificationRuled(RectificationStep):
    invalid: bool
    comment: str


class RectificationOverdue(SupervisionEventData):
    at: str


class ExperienceCheckRecorded(SupervisionEventData):
    check_id: str
    checker: str
    trips: int = Field(ge=0)
    minutes: int = Field(ge=0)
    findings: str
    actor: str
    at: str


SUPERVISION_EVENT_DATA: dict[str, type[SupervisionEventData]] = {
    "rectification_opened": RectificationOpened,
    "rectification_started": RectificationStep,
    "rectification_completed": RectificationCompleted,
    "rectification_invalid_requested": RectificationInvalidRequested,
    "rectification_ruled": RectificationRuled,
    "rectification_overdue": RectificationOverdue,
    "experience_check_recorded": ExperienceCheckRecorded,
}
