"""好差评 rectifications and experience checks (实际体验检查): aggregates with past-tense events."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from eventsourcing.domain import Aggregate, event

from shared.errors import ConflictError, ForbiddenError

NAMESPACE = uuid.UUID("0b7a4f64-9d0c-4b43-8f2e-6a51c0de7a11")
OPEN_RECTIFICATION = frozenset({"awaiting", "rectifying", "invalid_requested"})


def rectification_id(case_id: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"rectification:{case_id}")


def item_checks_id(item_id: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"checks:{item_id}")


class Rectification(Aggregate):
    """A bad review's rectification by the case's lead department.

    awaiting → rectifying → done (with a reply); or, from awaiting or rectifying, a
    request to rule the review invalid, which a supervisor grants (ruled_invalid) or
    refuses (back to rectifying).
    """

    @staticmethod
    def create_id(case_id: str, **_: Any) -> uuid.UUID:
        return rectification_id(case_id)

    @event("Opened")
    def __init__(
        self,
        case_id: str,
        item_id: str,
        item_name: str,
        department: str,
        applicant: str,
        score: int,
        comment: str,
        rated_at: str,
        deadline: str,
    ) -> None:
        self.case_id = case_id
        self.item_id = item_id
        self.item_name = item_name
        self.department = department
        self.applicant = applicant
        self.score = score
        self.comment = comment
        self.rated_at = rated_at
        self.deadline = deadline
        self.status = "awaiting"
        self.reply: str | None = None
        self.invalid_reason: str | None = None
        self.ruling: str | None = None
        self.overdue = False
        self.history: list[dict[str, Any]] = []

    def start(self, actor: str, department: str, at: str) -> None:
        self._own(department)
        self._require({"awaiting"}, "只有待整改的差评可以开始整改")
        self._started(actor, at)

    def complete(self, reply: str, actor: str, department: str, at: str) -> None:
        self._own(department)
        self._require({"awaiting", "rectifying"}, "该差评已不在整改中")
        self._completed(reply, actor, at)

    def request_invalid(self, reason: str, actor: str, department: str, at: str) -> None:
        self._own(department)
        self._require({"awaiting", "rectifying"}, "该差评已不在整改中")
        self._invalid_requested(reason, actor, at)

    def rule(self, invalid: bool, comment: str, actor: str, at: str) -> None:
        self._require({"invalid_requested"}, "该差评没有待裁定的无效申请")
        self._ruled(invalid, comment, actor, at)

    def flag_overdue(self, now: datetime) -> bool:
        if self.overdue or self.status not in OPEN_RECTIFICATION:
            return False
        if now <= datetime.fromisoformat(self.deadline):
            return False
        self._flagged_overdue(now.isoformat())
        return True

    @event("Started")
    def _started(self, actor: str, at: str) -> None:
        self.status = "rectifying"
        self.history.append({"status": self.status, "actor": actor, "at": at})

    @event("Completed")
    def _completed(self, reply: str, actor: str, at: str) -> None:
        self.status, self.reply = "done", reply
        self.history.append({"status": self.status, "actor": actor, "at": at, "reply": reply})

    @event("InvalidRequested")
    def _invalid_requested(self, reason: str, actor: str, at: str) -> None:
        self.status, self.invalid_reason = "invalid_requested", reason
        self.history.append({"status": self.status, "actor": actor, "at": at, "reason": reason})

    @event("Ruled")
    def _ruled(self, invalid: bool, comment: str, actor: str, at: str) -> None:
        self.status = "ruled_invalid" if invalid else "rectifying"
        self.ruling = comment
        self.history.append({"status": self.status, "actor": actor, "at": at, "comment": comment})

    @event("FlaggedOverdue")
    def _flagged_overdue(self, at: str) -> None:
        self.overdue = True
        self.history.append({"status": self.status, "actor": None, "at": at, "overdue": True})

    def is_overdue(self, now: datetime) -> bool:
        open_ = self.status in OPEN_RECTIFICATION
        return self.overdue or (open_ and now > datetime.fromisoformat(self.deadline))

    def view(self, now: datetime) -> dict[str, Any]:
        return {
            "rating_id": self.case_id,
            "case_id": self.case_id,
            "item_id": self.item_id,
            "item_name": self.item_name,
            "department": self.department,
            "applicant": self.applicant,
            "score": self.score,
            "comment": self.comment,
            "rated_at": self.rated_at,
            "rectification": {
                "status": self.status,
                "deadline": self.deadline,
                "overdue": self.is_overdue(now),
                "reply": self.reply,
                "invalid_reason": self.invalid_reason,
                "ruling": self.ruling,
                "history": list(self.history),
            },
        }

    def _own(self, department: str) -> None:
        if department != self.department:
            raise ForbiddenError("只有主责单位可以处理该差评的整改")

    def _require(self, statuses: set[str], message: str) -> None:
        if self.status not in statuses:
            raise ConflictError(message)


class ItemChecks(Aggregate):
    """The experience checks (实际体验检查) of one service item."""

    @staticmethod
    def create_id(item_id: str) -> uuid.UUID:
        return item_checks_id(item_id)

    @event("Started")
    def __init__(self, item_id: str) -> None:
        self.item_id = item_id
        self.checks: list[dict[str, Any]] = []

    @event("CheckRecorded")
    def record(
        self,
        check_id: str,
        checker: str,
        trips: int,
        minutes: int,
        findings: str,
        actor: str,
        at: str,
    ) -> None:
        self.checks.append(
            {
                "check_id": check_id,
                "item_id": self.item_id,
                "checker": checker,
                "trips": trips,
                "minutes": minutes,
                "findings": findings,
                "recorded_by": actor,
                "at": at,
            }
        )
