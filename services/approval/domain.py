"""The approval domain (办件): cases, the item versions they are pinned to, delegations.

A ``Case`` keeps its state as the contract's ``Case`` view, maintained by
``shared.casefold.apply`` from the very data each of its events publishes, so the audit
service's replay and this aggregate can never disagree. Times, ids, the caller's own
files and the working-day calendar are passed in; nothing here reads a clock.

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
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from eventsourcing.domain import Aggregate, event

from services.approval.calendar import in_shanghai
from shared import casefold
from shared.contracts import approval as contract
from shared.errors import (
    ConflictError,
    ForbiddenError,
    InvalidError,
    NotFoundError,
    RateLimitedError,
)

DueAt = Callable[[datetime, int], datetime]
Node = dict[str, Any]
Stage = dict[str, Any]

NAMESPACE = uuid.UUID("0d7b3c52-6a53-4b39-8f0e-2f1f6a7c9e21")
DECISIONS = ("approve", "return", "reject")


def missing_materials(
    specs: Collection[Mapping[str, Any]],
    form: Mapping[str, Any],
    materials: Mapping[str, str],
    own_files: Collection[str],
) -> list[str]:
    """Every required material not supplied, and every one naming a file not the caller's."""
    missing = [spec["name"] for spec in specs if _unsatisfied(spec, form, materials, own_files)]
    foreign = [name for name, file_id in materials.items() if file_id not in own_files]
    return list(dict.fromkeys(missing + foreign))


def _unsatisfied(
    spec: Mapping[str, Any],
    form: Mapping[str, Any],
    materials: Mapping[str, str],
    own_files: Collection[str],
) -> bool:
    if not spec.get("required", True):
        return False
    if spec["kind"] == "form":
        return not any(_filled(value) for value in form.values())
    if spec["kind"] == "file":
        return materials.get(spec["name"]) not in own_files
    return False


def _filled(value: Any) -> bool:
    return value not in (None, "", [], {})


def task_id_for(case_id: str, node_id: str, round_: int) -> str:
    return f"{case_id}.{node_id}.{round_}"


def parse_task_id(task_id: str) -> tuple[str, str, int]:
    case_id, _, rest = task_id.partition(".")
    node_id, _, round_ = rest.rpartition(".")
    if not (case_id and node_id and round_.isdigit()):
        raise NotFoundError(f"没有这个待办：{task_id}")
    return case_id, node_id, int(round_)


def lead_department_of(item: Mapping[str, Any]) -> str:
    return str(item.get("lead_department") or item["department"])


class Case(Aggregate):
    @staticmethod
    def create_id(data: Mapping[str, Any]) -> uuid.UUID:
        return uuid.UUID(data["case_id"])

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
        lead = lead_department_of(item)
        data = contract.CaseSubmitted(
            case_id=case_id,
            item_id=item["item_id"],
            item_name=item["name"],
            applicant=applicant,
            lead_department=lead,
            departments=_flow_departments(lead, item["flow"]),
            at=now,
            item_version=item["version"],
            department=lead,
            applicant_department=applicant_department,
            form=dict(form),
            materials=dict(materials),
            item_materials=item["materials"],
            flow=item["flow"],
            trips=item["trips"],
            time_limit_days=item["time_limit_days"],
            submitted_at=now,
            due_at=None if missing else due_at(now, item["time_limit_days"]),
        ).model_dump(mode="json")
        case = cls(data=data, actor=applicant, timestamp=now)
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
        data = self._payload(
            contract.CaseResubmitted,
            self.departments,
            now,
            round=self.view["round"] + 1,
            form=new_form,
            materials=new_materials,
            due_at=due,
        )
        self._resubmitted(data=data, actor=actor, timestamp=now)
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
        _check_decision(decision, comment)
        if self.status != "in_review":
            raise ConflictError("办件不在审批中，不能再审批")
        if node["state"] != "pending" or task_id not in (None, node["task_id"]):
            raise ConflictError("该环节已审批或已不在待办中")
        self._record_decision(node, decision, comment.strip(), actor, on_behalf_of, now)
        FOLLOW_UPS[decision](self, node, actor, now, due_at)

    def withdraw(self, *, actor: str, now: datetime) -> None:
        now = in_shanghai(now)
        self._require_applicant(actor)
        if self.status not in casefold.OPEN_STATUSES:
            raise ConflictError("办件已办结，不能撤回")
        self._cancel_pending("case_withdrawn", actor, now)
        self._close(self._withdrawn, actor, now)

    def urge(self, *, actor: str, now: datetime) -> list[str]:
        now = in_shanghai(now)
        self._require_applicant(actor)
        pending = list(self.pending_nodes())
        if self.status != "in_review" or not pending:
            raise ConflictError("办件当前没有待审批的环节，无需催办")
        due = [node for node in pending if not _urged_on(node, now.date())]
        if not due:
            raise RateLimitedError("每个环节每天只能催办一次，请明天再试")
        data = self._payload(
            contract.CaseUrged,
            _departments(due),
            now,
            node_ids=[node["node_id"] for node in due],
            urged_at=now,
        )
        self._urged(data=data, actor=actor, timestamp=now)
        return [node["node_id"] for node in due]

    def record_trip(
        self, *, purpose: str, actor: str, actor_department: str, now: datetime
    ) -> None:
        now = in_shanghai(now)
        if actor_department not in self.departments:
            raise ForbiddenError("只有办件涉及部门的工作人员可以登记跑动")
        if not purpose.strip():
            raise InvalidError("请填写本次跑动的事由")
        data = self._payload(
            contract.TripRecorded,
            [actor_department],
            now,
            purpose=purpose.strip(),
            recorded_by=actor,
            department=actor_department,
            trip_count=self.trip_count + 1,
            trips_promised=self.trips_promised,
        )
        self._trip_recorded(data=data, actor=actor, timestamp=now)

    def rate(self, *, score: int, comment: str, actor: str, now: datetime) -> None:
        now = in_shanghai(now)
        self._require_applicant(actor)
        if self.status not in casefold.CLOSED_STATUSES:
            raise ConflictError("办件办结后才能评价")
        if self.view["rating"] is not None:
            raise ConflictError("该办件已经评价过了")
        if not 1 <= score <= 5:
            raise InvalidError("评分应为 1 到 5 分")
        data = self._payload(
            contract.CaseRated,
            [self.lead_department],
            now,
            score=score,
            comment=comment.strip(),
            bad_review=score <= 2,
        )
        self._rated(data=data, actor=actor, timestamp=now)

    def mark_overdue(self, node_id: str, now: datetime, actor: str) -> bool:
        now = in_shanghai(now)
        node = self.node(node_id)
        if node["state"] != "pending" or node["overdue"]:
            return False
        if now <= datetime.fromisoformat(node["due_at"]):
            return False
        data = self._node_payload(contract.NodeOverdue, node, now, due_at=node["due_at"])
        self._node_overdue(data=data, actor=actor, timestamp=now)
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
        if missing:
            data = self._payload(
                contract.CaseIntakeRejected,
                [self.lead_department],
                now,
                round=self.round,
                missing_materials=missing,
            )
            self._intake_rejected(data=data, actor=actor, timestamp=now)
        else:
            self._advance(actor, now, due_at)

    def _advance(self, actor: str, now: datetime, due_at: DueAt) -> None:
        index = self._current_stage_index()
        if index is None:
            self._close(self._approved, actor, now)
            return
        stage = self.view["stages"][index]
        if not any(node["state"] == "pending" for node in stage["nodes"]):
            for node in _nodes_to_open(stage):
                self._open_node(index, node, actor, now, due_at)

    def _current_stage_index(self) -> int | None:
        for index, stage in enumerate(self.view["stages"]):
            if stage["state"] != "approved":
                return index
        return None

    def _open_node(
        self, index: int, node: Node, actor: str, now: datetime, due_at: DueAt
    ) -> None:
        stage = self.view["stages"][index]
        data = self._node_payload(
            contract.NodeOpened,
            node,
            now,
            stage=stage["name"],
            stage_index=index,
            task_id=task_id_for(self.view["case_id"], node["node_id"], self.round),
            round=self.round,
            opened_at=now,
            due_at=due_at(now, node["time_limit_days"]),
        )
        self._node_opened(data=data, actor=actor, timestamp=now)

    def _record_decision(
        self,
        node: Node,
        decision: str,
        comment: str,
        actor: str,
        on_behalf_of: str | None,
        now: datetime,
    ) -> None:
        data = self._node_payload(
            contract.NodeDecided,
            node,
            now,
            decision=decision,
            comment=comment,
            decided_by=actor,
            on_behalf_of=on_behalf_of,
            decided_at=now,
        )
        self._node_decided(data=data, actor=actor, timestamp=now)

    def _after_approve(self, node: Node, actor: str, now: datetime, due_at: DueAt) -> None:
        self._advance(actor, now, due_at)

    def _after_return(self, node: Node, actor: str, now: datetime, due_at: DueAt) -> None:
        index = self._stage_index_of(node["node_id"])
        self._cancel_pending("stage_returned", actor, now)
        stage = self.view["stages"][index]
        comments = [
            {key: each[key] for key in ("node_id", "department", "comment")}
            for each in stage["nodes"]
            if each["state"] == "returned"
        ]
        data = self._payload(
            contract.CaseReturned,
            _departments(stage["nodes"]),
            now,
            stage=stage["name"],
            stage_index=index,
            round=self.round,
            comments=comments,
        )
        self._returned(data=data, actor=actor, timestamp=now)

    def _after_reject(self, node: Node, actor: str, now: datetime, due_at: DueAt) -> None:
        self._cancel_pending("case_rejected", actor, now)
        self._close(self._rejected, actor, now)

    def _stage_index_of(self, node_id: str) -> int:
        for index, stage in enumerate(self.view["stages"]):
            if any(node["node_id"] == node_id for node in stage["nodes"]):
                return index
        raise NotFoundError(f"办件中没有这个审批环节：{node_id}")

    def _cancel_pending(self, reason: str, actor: str, now: datetime) -> None:
        for node in list(self.pending_nodes()):
            data = self._node_payload(
                contract.NodeCancelled, node, now, reason=reason
            )
            self._node_cancelled(data=data, actor=actor, timestamp=now)

    def _close(self, closing_event: Callable[..., None], actor: str, now: datetime) -> None:
        data = self._payload(
            contract.CaseClosed,
            self.departments,
            now,
            item_version=self.view["item_version"],
            round=self.round,
            closed_at=now,
            trip_count=self.trip_count,
            trips_promised=self.trips_promised,
        )
        closing_event(data=data, actor=actor, timestamp=now)

    def _require_applicant(self, actor: str) -> None:
        if actor != self.applicant:
            raise ForbiddenError("只有申请人本人可以这样做")

    def _payload(
        self,
        model: type[contract.CaseEventData],
        departments: list[str],
        now: datetime,
        **fields: Any,
    ) -> dict[str, Any]:
        return model(
            case_id=self.view["case_id"],
            item_id=self.view["item_id"],
            item_name=self.view["item_name"],
            applicant=self.applicant,
            lead_department=self.lead_department,
            departments=departments,
            at=now,
            **fields,
        ).model_dump(mode="json")

    def _node_payload(
        self, model: type[contract.CaseEventData], node: Node, now: datetime, **fields: Any
    ) -> dict[str, Any]:
        return self._payload(
            model,
            [node["department"]],
            now,
            node_id=node["node_id"],
            department=node["department"],
            **{"task_id": node["task_id"], **fields},
        )

    # -- events: each folds its own published data into the view ------------------------

    @event("Submitted")
    def __init__(self, data: dict[str, Any], actor: str, timestamp: datetime) -> None:
        self.view = casefold.apply_in_place(None, "case_submitted", data, timestamp, actor)

    def _fold(self, event_type: str, data: dict[str, Any], actor: str, at: datetime) -> None:
        self.view = casefold.apply_in_place(self.view, event_type, data, at, actor)

    @event("IntakeRejected")
    def _intake_rejected(self, data: dict[str, Any], actor: str, timestamp: datetime) -> None:
        self._fold("case_intake_rejected", data, actor, timestamp)

    @event("NodeOpened")
    def _node_opened(self, data: dict[str, Any], actor: str, timestamp: datetime) -> None:
        self._fold("node_opened", data, actor, timestamp)

    @event("NodeDecided")
    def _node_decided(self, data: dict[str, Any], actor: str, timestamp: datetime) -> None:
        self._fold("node_decided", data, actor, timestamp)

    @event("NodeCancelled")
    def _node_cancelled(self, data: dict[str, Any], actor: str, timestamp: datetime) -> None:
        self._fold("node_cancelled", data, actor, timestamp)

    @event("NodeOverdue")
    def _node_overdue(self, data: dict[str, Any], actor: str, timestamp: datetime) -> None:
        self._fold("node_overdue", data, actor, timestamp)

    @event("Returned")
    def _returned(self, data: dict[str, Any], actor: str, timestamp: datetime) -> None:
        self._fold("case_returned", data, actor, timestamp)

    @event("Resubmitted")
    def _resubmitted(self, data: dict[str, Any], actor: str, timestamp: datetime) -> None:
        self._fold("case_resubmitted", data, actor, timestamp)

    @event("Approved")
    def _approved(self, data: dict[str, Any], actor: str, timestamp: datetime) -> None:
        self._fold("case_approved", data, actor, timestamp)

    @event("Rejected")
    def _rejected(self, data: dict[str, Any], actor: str, timestamp: datetime) -> None:
        self._fold("case_rejected", data, actor, timestamp)

    @event("Withdrawn")
    def _withdrawn(self, data: dict[str, Any], actor: str, timestamp: datetime) -> None:
        self._fold("case_withdrawn", data, actor, timestamp)

    @event("Urged")
    def _urged(self, data: dict[str, Any], actor: str, timestamp: datetime) -> None:
        self._fold("case_urged", data, actor, timestamp)

    @event("TripRecorded")
    def _trip_recorded(self, data: dict[str, Any], actor: str, timestamp: datetime) -> None:
        self._fold("trip_recorded", data, actor, timestamp)

    @event("Rated")
    def _rated(self, data: dict[str, Any], actor: str, timestamp: datetime) -> None:
        self._fold("case_rated", data, actor, timestamp)


FollowUp = Callable[[Case, Node, str, datetime, DueAt], None]
FOLLOW_UPS: dict[str, FollowUp] = {
    "approve": Case._after_approve,
    "return": Case._after_return,
    "reject": Case._after_reject,
}

WIRE_TYPES: dict[type[Any], str] = {
    Case.Submitted: "case_submitted",  # type: ignore[attr-defined]
    Case.IntakeRejected: "case_intake_rejected",  # type: ignore[attr-defined]
    Case.NodeOpened: "node_opened",  # type: ignore[attr-defined]
    Case.NodeDecided: "node_decided",  # type: ignore[attr-defined]
    Case.NodeCancelled: "node_cancelled",  # type: ignore[attr-defined]
    Case.NodeOverdue: "node_overdue",  # type: ignore[attr-defined]
    Case.Returned: "case_returned",  # type: ignore[attr-defined]
    Case.Resubmitted: "case_resubmitted",  # type: ignore[attr-defined]
    Case.Approved: "case_approved",  # type: ignore[attr-defined]
    Case.Rejected: "case_rejected",  # type: ignore[attr-defined]
    Case.Withdrawn: "case_withdrawn",  # type: ignore[attr-defined]
    Case.Urged: "case_urged",  # type: ignore[attr-defined]
    Case.TripRecorded: "trip_recorded",  # type: ignore[attr-defined]
    Case.Rated: "case_rated",  # type: ignore[attr-defined]
}


def _check_decision(decision: str, comment: str) -> None:
    if decision not in DECISIONS:
        raise InvalidError("审批意见只能是通过、退回或不予通过")
    if decision != "approve" and not comment.strip():
        raise InvalidError("退回或不予通过时必须填写意见")


def _nodes_to_open(stage: Stage) -> list[Node]:
    if stage["on_return"] == "restart_stage":
        return list(stage["nodes"])
    return [node for node in stage["nodes"] if node["state"] != "approved"]


def _urged_on(node: Node, day: date) -> bool:
    urged_at = node["urged_at"]
    return urged_at is not None and in_shanghai(datetime.fromisoformat(urged_at)).date() == day


def _departments(nodes: Collection[Node]) -> list[str]:
    return list(dict.fromkeys(node["department"] for node in nodes))


def _flow_departments(lead: str, flow: Mapping[str, Any]) -> list[str]:
    nodes = [node for stage in flow["stages"] for node in stage["nodes"]]
    return list(dict.fromkeys([lead, *(node["department"] for node in nodes)]))


# -- the item versions cases are pinned to ---------------------------------------------


class ItemVersion(Aggregate):
    """One published version of a catalogue item, as learnt from ``item_published``."""

    @staticmethod
    def create_id(item_id: str, item_version: int) -> uuid.UUID:
        return item_version_id(item_id, item_version)

    @event("Learned")
    def __init__(
        self, item_id: str, item_version: int, item: dict[str, Any], timestamp: datetime
    ) -> None:
        self.item_id = item_id
        self.item_version = item_version
        self.item = item


def item_version_id(item_id: str, version: int) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"item-version:{item_id}:{version}")


class PublishedItem(Aggregate):
    """Which version of an item new cases are submitted against, if any."""

    @staticmethod
    def create_id(item_id: str) -> uuid.UUID:
        return published_item_id(item_id)

    @event("Tracked")
    def __init__(self, item_id: str, timestamp: datetime) -> None:
        self.item_id = item_id
        self.current_version: int | None = None
        self.known_versions: list[int] = []

    def learn(self, version: int, now: datetime) -> bool:
        if version in self.known_versions:
            return False
        self._version_published(version=version, timestamp=now)
        return True

    @event("VersionPublished")
    def _version_published(self, version: int, timestamp: datetime) -> None:
        self.known_versions.append(version)
        self.current_version = max(self.known_versions)

    def retire(self, version: int | None, now: datetime) -> None:
        if self.current_version is not None and version in (None, self.current_version):
            self._retired(version=self.current_version, timestamp=now)

    @event("Retired")
    def _retired(self, version: int, timestamp: datetime) -> None:
        self.current_version = None


def published_item_id(item_id: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"published-item:{item_id}")


# -- who applied for what --------------------------------------------------------------


class ApplicantCases(Aggregate):
    """The index of one applicant's cases, newest last: no longer written (the inbox's
    ``applicant_cases`` table answers, without every submit of one applicant contending for
    one aggregate). Kept so that stores written before can still be read and replayed."""

    @staticmethod
    def create_id(applicant: str) -> uuid.UUID:
        return applicant_cases_id(applicant)

    @event("Started")
    def __init__(self, applicant: str, timestamp: datetime) -> None:
        self.applicant = applicant
        self.case_ids: list[str] = []

    @event("CaseAdded")
    def add(self, case_id: str, timestamp: datetime) -> None:
        self.case_ids.append(case_id)


def applicant_cases_id(applicant: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"applicant-cases:{applicant}")


# -- commands done once (Idempotency-Key) -----------------------------------------------


class Receipt(Aggregate):
    """A keyed command that took effect. Saved with its effect, so a retry of the same
    request (the same id) finds it and changes nothing; a concurrent one conflicts."""

    @staticmethod
    def create_id(request_id: str) -> uuid.UUID:
        return receipt_id(request_id)

    @event("Recorded")
    def __init__(self, request_id: str, case_id: str, timestamp: datetime) -> None:
        self.request_id = request_id
        self.case_id = case_id


def receipt_id(request_id: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"request:{request_id}")


def requested_case_id(request_id: str) -> str:
    """A keyed submission's case id follows from the request: a retry names the same case."""
    return str(uuid.uuid5(NAMESPACE, f"case-request:{request_id}"))


# -- delegation (委托) -------------------------------------------------------------------


@dataclass(frozen=True)
class Delegation:
    delegator: str
    delegate: str
    department: str
    starts_on: date
    ends_on: date

    def covers(self, department: str, day: date) -> bool:
        return self.department == department and self.starts_on <= day <= self.ends_on


class Delegations(Aggregate):
    """The delegations one colleague holds: whose decisions they may take, where, when."""

    @staticmethod
    def create_id(delegate: str) -> uuid.UUID:
        return delegations_id(delegate)

    @event("Started")
    def __init__(self, delegate: str, timestamp: datetime) -> None:
        self.delegate = delegate
        self.granted: list[dict[str, str]] = []

    def grant(
        self,
        *,
        delegator: str,
        department: str,
        starts_on: date,
        ends_on: date,
        now: datetime,
    ) -> Delegation:
        if delegator == self.delegate:
            raise InvalidError("不能委托给自己")
        if ends_on < starts_on:
            raise InvalidError("委托的结束日期不能早于开始日期")
        if ends_on < in_shanghai(now).date():
            raise InvalidError("委托的结束日期已经过去")
        self._granted(
            delegator=delegator,
            department=department,
            starts_on=starts_on.isoformat(),
            ends_on=ends_on.isoformat(),
            actor=delegator,
            timestamp=now,
        )
        return self.delegations[-1]

    @event("Granted")
    def _granted(
        self,
        delegator: str,
        department: str,
        starts_on: str,
        ends_on: str,
        actor: str,
        timestamp: datetime,
    ) -> None:
        self.granted.append(
            {
                "delegator": delegator,
                "department": department,
                "starts_on": starts_on,
                "ends_on": ends_on,
            }
        )

    def revoke(self, *, delegator: str, now: datetime) -> None:
        if not any(each["delegator"] == delegator for each in self.granted):
            raise NotFoundError("没有这项委托")
        self._revoked(delegator=delegator, actor=delegator, timestamp=now)

    @event("Revoked")
    def _revoked(self, delegator: str, actor: str, timestamp: datetime) -> None:
        self.granted = [each for each in self.granted if each["delegator"] != delegator]

    @property
    def delegations(self) -> list[Delegation]:
        return [
            Delegation(
                delegator=each["delegator"],
                delegate=self.delegate,
                department=each["department"],
                starts_on=date.fromisoformat(each["starts_on"]),
                ends_on=date.fromisoformat(each["ends_on"]),
            )
            for each in self.granted
        ]

    def delegator_for(self, department: str, moment: datetime) -> str | None:
        day = in_shanghai(moment).date()
        found = (each for each in self.delegations if each.covers(department, day))
        return next((each.delegator for each in found), None)


def delegations_id(delegate: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"delegations:{delegate}")
