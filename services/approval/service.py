"""The approval service (办件): nameko RPC for the gateway, events in from the catalogue."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from services.approval.application import ApprovalApplication
from services.approval.inbox import TaskInbox
from shared.caller import SignedRpcProxy
from shared.config import Settings
from shared.contracts import IntegrationEvent
from shared.contracts.approval import (
    CasePage,
    CaseSubmission,
    DecisionRequest,
    DelegationRequest,
    RatingRequest,
    Resubmission,
    TripRequest,
)
from shared.dependencies import EventStore
from shared.errors import ForbiddenError, InvalidError, NotFoundError
from shared.messaging import integration_event_handler
from shared.roles import APPROVER, SUPERVISOR, is_staff, may_delegate
from shared.rpc import rpc
from shared.service import HealthCheckMixin, ProcessSettings, every
from shared.workdays import SHANGHAI

M = TypeVar("M", bound=BaseModel)


def valid(model: type[M], data: Any) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        field = ".".join(str(p) for p in first["loc"]) or "body"
        raise InvalidError(f"{field}: {first['msg']}") from exc


def staff_department(actor: dict[str, Any]) -> str | None:
    """Only staff see cases through their department; an applicant sees their own."""
    return actor.get("department") if is_staff(actor.get("roles", [])) else None


class ApprovalStore(EventStore[ApprovalApplication]):
    """The event store, with the inbox read model made ready before any worker runs."""

    def __init__(self) -> None:
        super().__init__(ApprovalApplication)

    def setup(self) -> None:
        super().setup()
        assert self.app is not None
        self.app.inbox = TaskInbox(self.app)
        self.app.inbox.create_tables()
        self.app.inbox.catch_up()


class ApprovalService(HealthCheckMixin):
    name = "approval"

    store: ApprovalApplication = ApprovalStore()  # type: ignore[assignment]
    gateway = SignedRpcProxy("gateway")  # the directory: who is an approver of which department
    settings: Settings = ProcessSettings()  # type: ignore[assignment]

    @property
    def inbox(self) -> TaskInbox:
        inbox: TaskInbox = self.store.inbox
        return inbox

    # -- items, learnt from the catalogue ---------------------------------------------

    @integration_event_handler("catalogue", "item_published")
    def on_item_published(self, event: IntegrationEvent) -> None:
        self.store.learn_item(event.data)

    @integration_event_handler("catalogue", "item_retired")
    def on_item_retired(self, event: IntegrationEvent) -> None:
        self.store.retire_item(event.data["item_id"], version=event.data.get("version"))

    # -- cases ----------------------------------------------------------------------------

    def _changed(self, command: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        result = command()
        self.inbox.catch_up()
        return result

    # ``request_id`` names a command sent with an Idempotency-Key (the gateway derives it
    # from the caller, the key and the request): a retry of it takes effect once.

    @rpc
    def submit_case(self, actor: dict[str, Any], submission: dict[str, Any], own_files: list[str],
                    request_id: str | None = None) -> dict[str, Any]:
        body = valid(CaseSubmission, submission)
        return self._changed(lambda: self.store.submit(
            applicant=actor["username"], applicant_department=actor.get("department"),
            item_id=body.item_id, form=body.form, materials=body.materials, own_files=own_files,
            request_id=request_id,
        ))

    @rpc
    def resubmit_case(self, actor: dict[str, Any], case_id: str, resubmission: dict[str, Any],
                      own_files: list[str], request_id: str | None = None) -> dict[str, Any]:
        body = valid(Resubmission, resubmission)
        return self._changed(lambda: self.store.resubmit(
            case_id, actor=actor["username"], form=body.form, materials=body.materials,
            own_files=own_files, request_id=request_id,
        ))

    @rpc
    def decide_task(self, actor: dict[str, Any], task_id: str, decision: dict[str, Any],
                    request_id: str | None = None) -> dict[str, Any]:
        body = valid(DecisionRequest, decision)
        self._require_decider(actor)
        return self._changed(lambda: self.store.decide_task(
            task_id, decision=body.decision, comment=body.comment, actor=actor["username"],
            actor_department=actor.get("department"), actor_roles=actor.get("roles", []),
            request_id=request_id,
        ))

    @rpc
    def withdraw_case(self, actor: dict[str, Any], case_id: str) -> dict[str, Any]:
        return self._changed(lambda: self.store.withdraw(case_id, actor=actor["username"]))

    @rpc
    def urge_case(self, actor: dict[str, Any], case_id: str) -> dict[str, Any]:
        urged = self.store.urge(case_id, actor=actor["username"])
        return {"case_id": case_id, "urged": urged}

    @rpc
    def record_trip(self, actor: dict[str, Any], case_id: str, trip: dict[str, Any]) -> dict[str, Any]:
        body = valid(TripRequest, trip)
        if not is_staff(actor.get("roles", [])):
            raise ForbiddenError("只有办理部门的工作人员可以登记跑动")
        self._visible_case(actor, case_id)
        return self._changed(lambda: self.store.record_trip(
            case_id, purpose=body.purpose, actor=actor["username"], actor_department=actor["department"],
        ))

    @rpc
    def rate_case(self, actor: dict[str, Any], case_id: str, rating: dict[str, Any]) -> dict[str, Any]:
        body = valid(RatingRequest, rating)
        return self._changed(lambda: self.store.rate(
            case_id, score=body.score, comment=body.comment, actor=actor["username"],
        ))

    @rpc
    def get_case(self, actor: dict[str, Any], case_id: str) -> dict[str, Any]:
        return self._visible_case(actor, case_id)

    @rpc
    def list_cases(self, actor: dict[str, Any]) -> list[dict[str, Any]]:
        return self.case_page(actor)["cases"]

    @rpc
    def case_page(
        self, actor: dict[str, Any], limit: int | None = None, offset: int = 0
    ) -> dict[str, Any]:
        """The caller's cases (an applicant's own; staff: their department's), newest first:
        ``limit`` of them from ``offset`` (all when no limit), and how many there are."""
        page = valid(CasePage, {"limit": limit, "offset": offset})
        department = staff_department(actor)
        case_ids, total = (
            self.inbox.case_page(applicant=actor["username"], limit=page.limit, offset=page.offset)
            if department is None
            else self.inbox.case_page(department=department, limit=page.limit, offset=page.offset)
        )
        cases = [self.store.get_case(case_id) for case_id in case_ids]
        return {"cases": cases, "total": total, "limit": page.limit, "offset": page.offset}

    @rpc
    def list_tasks(self, actor: dict[str, Any]) -> list[dict[str, Any]]:
        self._require_decider(actor)
        return self._decidable_tasks(actor)

    @rpc
    def case_tasks(self, actor: dict[str, Any], case_id: str) -> list[dict[str, Any]]:
        """The caller's decidable tasks of one case (none for who decides nothing)."""
        return [task for task in self._decidable_tasks(actor) if task["case_id"] == case_id]

    def _decidable_tasks(self, actor: dict[str, Any]) -> list[dict[str, Any]]:
        """The pending nodes the caller decides: their department's (as its approver) and
        the delegating departments' (委托, within the dates), never one of their own cases."""
        departments = set(self._delegated_departments(actor))
        if APPROVER in actor.get("roles", []):
            departments.add(actor["department"])
        tasks = [
            task for department in sorted(departments) for task in self.inbox.tasks(department)
            if task["applicant"] != actor["username"]
        ]
        return sorted(tasks, key=lambda task: (task["created_at"], task["task_id"]))

    @rpc
    def file_visible_to(self, actor: dict[str, Any], file_id: str) -> bool:
        department = staff_department(actor)
        return department is not None and self.inbox.file_cited_for(file_id, department)

    # -- delegation (委托) ---------------------------------------------------------------

    @rpc
    def delegate(self, actor: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
        """Only an approver delegates, and only to another approver of their own department
        (the gateway's directory says who that is)."""
        body = valid(DelegationRequest, request)
        if not may_delegate(actor.get("roles", [])):
            raise ForbiddenError("只有审批人可以委托")
        if body.delegate not in self.gateway.department_members(actor["department"], APPROVER):
            raise InvalidError(f"只能委托给本部门的其他审批人:{body.delegate} 不是本部门的审批人")
        return self.store.delegate(
            delegator=actor["username"], department=actor["department"], delegate=body.delegate,
            starts_on=body.starts_on, ends_on=body.ends_on,
        )

    @rpc
    def delegations(self, actor: dict[str, Any]) -> list[dict[str, Any]]:
        return self.store.delegations_of(actor["username"])

    # -- the overdue check: every instance runs it; each node is flagged once per opening --

    @every(interval_of=lambda settings: settings.overdue_check_seconds)
    def check_overdue(self) -> list[str]:
        now = datetime.now(SHANGHAI) + timedelta(days=self.settings.clock_skew_days)
        self.inbox.catch_up()
        marked = []
        for case_id, node_id in self.inbox.overdue_candidates(now):
            marked += self.store.mark_overdue(case_id, node_id=node_id, now=now)
        self.inbox.catch_up()
        return marked

    # -- rules ----------------------------------------------------------------------------

    def _visible_case(self, actor: dict[str, Any], case_id: str) -> dict[str, Any]:
        if SUPERVISOR in actor.get("roles", []):
            return self.store.get_case(case_id)
        try:
            return self.store.get_case(
                case_id, viewer=actor["username"], viewer_department=staff_department(actor)
            )
        except NotFoundError:
            # A delegate (委托) sees the cases of the departments whose decisions they hold.
            for department in self._delegated_departments(actor):
                try:
                    return self.store.get_case(case_id, viewer=actor["username"], viewer_department=department)
                except NotFoundError:
                    continue
            raise

    def _delegated_departments(self, actor: dict[str, Any]) -> list[str]:
        today = datetime.now(SHANGHAI).date().isoformat()
        return sorted({
            d["department"] for d in self.store.delegations_of(actor["username"])
            if d["starts_on"] <= today <= d["ends_on"]
        })

    def _require_decider(self, actor: dict[str, Any]) -> None:
        if APPROVER not in actor.get("roles", []) and not self._delegated_departments(actor):
            raise ForbiddenError("只有审批人(或在委托期内的受委托人)可以处理待办")


__all__ = ["ApprovalService"]
