"""The case (办件) aggregate: it records the contract's integration events themselves.

Each command decides, then records one of the events of ``shared.contracts.case_events``; the
aggregate keeps its state as the contract's ``Case`` view, folded by ``shared.casefold`` from
those very events, so the audit service's replay and this aggregate can never disagree.
Times, ids, the caller's own files and the working-day calendar are passed in; nothing
here reads a clock.

Rules decided here (the contract leaves them open):
- The first return in a stage closes that stage's round: its other pending nodes are
  cancelled and the case goes back to the applicant with the returning comment.
- After a resubmission that passes intake, ``restart_stage`` reopens every node of the
  returned stage; ``returning_node_only`` reopens the nodes that had not approved.
- Every resubmission goes through intake again and restarts the promised time limit.
- A resubmission replaces the form when one is given and merges the materials.
- Urging reminds every pending node not yet urged today (Asia/Shanghai).
"""
from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Iterator, Mapping
from datetime import datetime
from typing import Any, TypeVar

from eventsourcing.domain import Aggregate, event

from services.approval.rules import (
    Node,
    check_decision,
    current_stage_index,
    departments_of_nodes,
    missing_materials,
    nodes_to_open,
    returning_comments,
    stage_index_of,
    submission,
    task_id_for,
    urged_on,
)
from shared import casefold
from shared.contracts import case_events as contract
from shared.errors import (
    ConflictError,
    ForbiddenError,
    InvalidError,
    NotFoundError,
    RateLimitedError,
)
from shared.workdays import in_shanghai

DueAt = Callable[[datetime, int], datetime]
E = TypeVar("E", bound=contract.CaseEvent)


class Case(Aggregate):
    class Started(Aggregate.Created):
        event: contract.CaseSubmitted
        actor: str

    class Recorded(Aggregate.Event):
        event: contract.CaseEvent
        actor: str

        def apply(self, aggregate: Any) -> None:
            aggregate.view = casefold.apply_in_place(aggregate.view, self.event, self.actor)

    @staticmethod
    def create_id(event: contract.CaseSubmitted) -> uuid.UUID:
        return uuid.UUID(event.case_id)

    @event(Started)
    def __init__(self, event: contract.CaseSubmitted, actor: str, timestamp: datetime) -> None:
        self.view = casefold.apply_in_place(None, event, actor)

    def _record(self, case_event: contract.CaseEvent, actor: str) -> None:
        self.trigger_event(Case.Recorded, event=case_event, actor=actor, timestamp=case_event.at)

    # -- commands ----------------------------------------------------------------------

    @classmethod
    def submit(
        cls,
        *,
        case_id: str,
        item: Mapping[str, Any],
        applicant: str,
        applicant_department: str | None,
        form: Mapping[str, Any],
        materials: Mapping[str, str],
        own_files: Collection[str],
        now: datetime,
        due_at: DueAt,
    ) -> Case:
        now = in_shanghai(now)
        missing = missing_materials(item["materials"], form, materials, own_files)
        due = None if missing else due_at(now, item["time_limit_days"])
        submitted = submission(
            item, now, due, case_id=case_id, applicant=applicant,
            applicant_department=applicant_department, form=dict(form), materials=dict(materials),
        )
        case = cls(event=submitted, actor=applicant, timestamp=now)
        case._take_in(missing, applicant, now, due_at)
        return case

    def resubmit(
        self,
        *,
        form: Mapping[str, Any] | None,
        materials: Mapping[str, str] | None,
        actor: str,
        own_files: Collection[str],
        now: datetime,
        due_at: DueAt,
    ) -> None:
        now = in_shanghai(now)
        self._require_applicant(actor)
        if self.status not in ("returned", "intake_rejected"):
            raise ConflictError("只有被退回或未通过受理的办件可以重新提交")
        new_form = dict(form) if form is not None else self.view["form"]
        new_materials = {**self.view["materials"], **(materials or {})}
        missing = missing_materials(self.view["item_materials"], new_form, new_materials, own_files)
        due = None if missing else due_at(now, self.view["time_limit_days"])
        resubmitted = self._event(
            contract.CaseResubmitted,
            self.departments,
            now,
            round=self.view["round"] + 1,
            form=new_form,
            materials=new_materials,
            due_at=due,
        )
        self._record(resubmitted, actor)
        self._take_in(missing, actor, now, due_at)

    def decide(
        self,
        *,
        node_id: str,
        decision: str,
        comment: str,
        actor: str,
        actor_department: str | None,
        now: datetime,
        due_at: DueAt,
        on_behalf_of: str | None = None,
        task_id: str | None = None,
    ) -> None:
        now = in_shanghai(now)
        node = self.node(node_id)
        if actor == self.applicant:
            raise ForbiddenError("不能审批自己申请的办件")
        if node["department"] != actor_department:
            raise ForbiddenError("只能审批本部门的环节(本部门审批人)或委托给您的部门的环节")
        check_decision(decision, comment)
        if self.status != "in_review":
            raise ConflictError("办件不在审批中，不能再审批")
        if node["state"] != "pending" or task_id not in (None, node["task_id"]):
            raise ConflictError("该环节已审批或已不在待办中")
        decided = self._node_event(
            contract.NodeDecided,
            node,
            now,
            decision=decision,
            comment=comment.strip(),
            decided_by=actor,
            on_behalf_of=on_behalf_of,
            decided_at=now,
        )
        self._record(decided, actor)
        FOLLOW_UPS[decision](self, node, actor, now, due_at)

    def withdraw(self, *, actor: str, now: datetime) -> None:
        now = in_shanghai(now)
        self._require_applicant(actor)
        if self.status not in contract.OPEN_STATUSES:
            raise ConflictError("办件已办结，不能撤回")
        self._cancel_pending("case_withdrawn", actor, now)
        self._close(contract.CaseWithdrawn, actor, now)

    def urge(self, *, actor: str, now: datetime) -> list[str]:
        now = in_shanghai(now)
        self._require_applicant(actor)
        pending = list(self.pending_nodes())
        if self.status != "in_review" or not pending:
            raise ConflictError("办件当前没有待审批的环节，无需催办")
        due = [node for node in pending if not urged_on(node, now.date())]
        if not due:
            raise RateLimitedError("每个环节每天只能催办一次，请明天再试")
        node_ids = [node["node_id"] for node in due]
        urged = self._event(
            contract.CaseUrged, departments_of_nodes(due), now, node_ids=node_ids, urged_at=now
        )
        self._record(urged, actor)
        return node_ids

    def record_trip(
        self, *, purpose: str, actor: str, actor_department: str, now: datetime
    ) -> None:
        now = in_shanghai(now)
        if actor_department not in self.departments:
            raise ForbiddenError("只有办件涉及部门的工作人员可以登记跑动")
        if not purpose.strip():
            raise InvalidError("请填写本次跑动的事由")
        trip = self._event(
            contract.TripRecorded,
            [actor_department],
            now,
            purpose=purpose.strip(),
            recorded_by=actor,
            department=actor_department,
            trip_count=self.trip_count + 1,
            trips_promised=self.trips_promised,
        )
        self._record(trip, actor)

    def rate(self, *, score: int, comment: str, actor: str, now: datetime) -> None:
        now = in_shanghai(now)
        self._require_applicant(actor)
        if self.status not in contract.CLOSED_STATUSES:
            raise ConflictError("办件办结后才能评价")
        if self.view["rating"] is not None:
            raise ConflictError("该办件已经评价过了")
        if not 1 <= score <= 5:
            raise InvalidError("评分应为 1 到 5 分")
        rated = self._event(
            contract.CaseRated,
            [self.lead_department],
            now,
            score=score,
            comment=comment.strip(),
            bad_review=contract.is_bad_review(score),
        )
        self._record(rated, actor)

    def mark_overdue(self, node_id: str, now: datetime, actor: str) -> bool:
        now = in_shanghai(now)
        node = self.node(node_id)
        if node["state"] != "pending" or node["overdue"]:
            return False
        if now <= datetime.fromisoformat(node["due_at"]):
            return False
        self._record(self._node_event(contract.NodeOverdue, node, now, due_at=node["due_at"]), actor)
        return True

    # -- queries -----------------------------------------------------------------------

    @property
    def status(self) -> str:
        return str(self.view["status"])

    @property
    def applicant(self) -> str:
        return str(self.view["applicant"])

    @property
    def lead_department(self) -> str:
        return str(self.view["department"])

    @property
    def departments(self) -> list[str]:
        return casefold.departments_of(self.view)

    @property
    def trip_count(self) -> int:
        return len(self.view["trips"])

    @property
    def trips_promised(self) -> int:
        return int(self.view["trips_promised"] or 0)

    @property
    def round(self) -> int:
        return int(self.view["round"])

    def node(self, node_id: str) -> Node:
        node = casefold.find_node(self.view, node_id)
        if node is None:
            raise NotFoundError(f"办件中没有这个审批环节：{node_id}")
        return node

    def pending_nodes(self) -> Iterator[Node]:
        for stage in self.view["stages"]:
            yield from (node for node in stage["nodes"] if node["state"] == "pending")

    def may_see(self, username: str, department: str | None) -> bool:
        return username == self.applicant or department in self.departments

    # -- steps shared by commands ------------------------------------------------------

    def _take_in(self, missing: list[str], actor: str, now: datetime, due_at: DueAt) -> None:
        if not missing:
            self._advance(actor, now, due_at)
            return
        rejected = self._event(contract.CaseIntakeRejected, [self.lead_department], now,
                               round=self.round, missing_materials=missing)
        self._record(rejected, actor)

    def _advance(self, actor: str, now: datetime, due_at: DueAt) -> None:
        index = current_stage_index(self.view)
        if index is None:
            self._close(contract.CaseApproved, actor, now)
            return
        stage = self.view["stages"][index]
        if not any(node["state"] == "pending" for node in stage["nodes"]):
            for node in nodes_to_open(stage):
                self._open_node(index, node, actor, now, due_at)

    def _open_node(
        self, index: int, node: Node, actor: str, now: datetime, due_at: DueAt
    ) -> None:
        opened = self._node_event(
            contract.NodeOpened,
            node,
            now,
            stage=self.view["stages"][index]["name"],
            stage_index=index,
            task_id=task_id_for(self.view["case_id"], node["node_id"], self.round),
            round=self.round,
            opened_at=now,
            due_at=due_at(now, node["time_limit_days"]),
        )
        self._record(opened, actor)

    def _after_approve(self, node: Node, actor: str, now: datetime, due_at: DueAt) -> None:
        self._advance(actor, now, due_at)

    def _after_return(self, node: Node, actor: str, now: datetime, due_at: DueAt) -> None:
        index = stage_index_of(self.view, node["node_id"])
        self._cancel_pending("stage_returned", actor, now)
        stage = self.view["stages"][index]
        returned = self._event(
            contract.CaseReturned,
            departments_of_nodes(stage["nodes"]),
            now,
            stage=stage["name"],
            stage_index=index,
            round=self.round,
            comments=returning_comments(stage),
        )
        self._record(returned, actor)

    def _after_reject(self, node: Node, actor: str, now: datetime, due_at: DueAt) -> None:
        self._cancel_pending("case_rejected", actor, now)
        self._close(contract.CaseRejected, actor, now)

    def _cancel_pending(self, reason: str, actor: str, now: datetime) -> None:
        for node in list(self.pending_nodes()):
            self._record(self._node_event(contract.NodeCancelled, node, now, reason=reason), actor)

    def _close(self, closing: type[contract.CaseClosed], actor: str, now: datetime) -> None:
        closed = self._event(
            closing,
            self.departments,
            now,
            item_version=self.view["item_version"],
            round=self.round,
            closed_at=now,
            trip_count=self.trip_count,
            trips_promised=self.trips_promised,
        )
        self._record(closed, actor)

    def _require_applicant(self, actor: str) -> None:
        if actor != self.applicant:
            raise ForbiddenError("只有申请人本人可以这样做")

    def _event(self, model: type[E], departments: list[str], now: datetime, **fields: Any) -> E:
        return model(
            case_id=self.view["case_id"],
            item_id=self.view["item_id"],
            item_name=self.view["item_name"],
            applicant=self.applicant,
            lead_department=self.lead_department,
            departments=departments,
            at=now,
            **fields,
        )

    def _node_event(self, model: type[E], node: Node, now: datetime, **fields: Any) -> E:
        node_fields = {"node_id": node["node_id"], "department": node["department"]}
        fields = {**node_fields, "task_id": node["task_id"], **fields}
        return self._event(model, [node["department"]], now, **fields)


FollowUp = Callable[[Case, Node, str, datetime, DueAt], None]
FOLLOW_UPS: dict[str, FollowUp] = {
    "approve": Case._after_approve,
    "return": Case._after_return,
    "reject": Case._after_reject,
}

