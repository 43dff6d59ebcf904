"""The approval application: commands load → call → save, queries return plain dicts.

This module holds the case commands; the item versions (``items``), delegations
(``delegating``) and the store they share (``store``) are beside it. Cases resolve their flow from the item versions learnt from the catalogue's
``item_published`` events (``learn_item``), never by calling the catalogue. Every
command that touches a case is retried on a version conflict, so parallel approvers'
decisions all land exactly once.
"""
from __future__ import annotations

import copy
import threading
import uuid
from collections.abc import Callable, Collection, Mapping
from datetime import datetime
from typing import Any, TypeVar

from services.approval.case import Case
from services.approval.delegating import DelegationDesk
from services.approval.domain import Receipt, receipt_id, requested_case_id
from services.approval.items import ItemLine
from services.approval.rules import parse_task_id
from shared.errors import ConflictError, NotFoundError
from shared.eventstore import retry_on_conflict
from shared.roles import APPROVER
from shared.workdays import WorkingCalendar

T = TypeVar("T")
SYSTEM_ACTOR = "system"


class ApprovalApplication(ItemLine, DelegationDesk):
    name = "approval"
    inbox: Any = None  # the service's read model of pending nodes (services.approval.inbox)

    def __init__(
        self, env: Mapping[str, str] | None = None, calendar: WorkingCalendar | None = None
    ) -> None:
        super().__init__(env=env, calendar=calendar)
        self._case_locks = [threading.Lock() for _ in range(64)]

    # -- cases -------------------------------------------------------------------------

    def submit(
        self,
        *,
        applicant: str,
        applicant_department: str | None,
        item_id: str,
        form: Mapping[str, Any],
        materials: Mapping[str, str],
        own_files: Collection[str],
        now: datetime | None = None,
        case_id: str | None = None,
        request_id: str | None = None,
    ) -> dict[str, Any]:
        """A new case; with a ``request_id`` (an Idempotency-Key) its id follows from the
        request, so a retry answers the case the first attempt recorded and files none."""
        moment = self._now(now)
        new_case_id = requested_case_id(request_id) if request_id else case_id or str(uuid.uuid4())
        if request_id and (done := self._requested_case(new_case_id, applicant)) is not None:
            return done
        item = self.published_item(item_id)

        def command() -> dict[str, Any]:
            if request_id and (done := self._requested_case(new_case_id, applicant)) is not None:
                return done
            case = Case.submit(
                case_id=new_case_id, item=item, applicant=applicant,
                applicant_department=applicant_department, form=form, materials=materials,
                own_files=own_files, now=moment, due_at=self.calendar.due_at,
            )
            self.save(case)
            return copy.deepcopy(case.view)

        return retry_on_conflict(command)

    def _requested_case(self, case_id: str, applicant: str) -> dict[str, Any] | None:
        case = self._get_or_none(_case_uuid(case_id))
        if not isinstance(case, Case):
            return None
        if case.applicant != applicant:
            raise ConflictError("这个请求标识已被使用")
        return copy.deepcopy(case.view)

    def resubmit(
        self,
        case_id: str,
        *,
        actor: str,
        form: Mapping[str, Any] | None,
        materials: Mapping[str, str] | None,
        own_files: Collection[str],
        actor_department: str | None = None,
        now: datetime | None = None,
        request_id: str | None = None,
    ) -> dict[str, Any]:
        def resubmit(case: Case, moment: datetime) -> None:
            case.resubmit(
                form=form,
                materials=materials,
                actor=actor,
                own_files=own_files,
                now=moment,
                due_at=self.calendar.due_at,
            )

        return self._change_visible(case_id, actor, actor_department, now, resubmit, request_id)

    def decide(
        self,
        case_id: str,
        node_id: str,
        *,
        decision: str,
        comment: str,
        actor: str,
        actor_department: str | None,
        actor_roles: Collection[str],
        now: datetime | None = None,
        task_id: str | None = None,
        request_id: str | None = None,
    ) -> dict[str, Any]:
        """A decision by an approver of the node's department, or by a colleague that
        department's approver delegated to (委托) for the day: never by the applicant."""
        moment = self._now(now)

        def decide(case: Case) -> None:
            department = case.node(node_id)["department"]
            on_behalf_of = self._delegator(actor, department, moment)
            own = actor_department if APPROVER in actor_roles else None
            case.decide(
                node_id=node_id,
                decision=decision,
                comment=comment,
                actor=actor,
                actor_department=department if on_behalf_of else own,
                on_behalf_of=on_behalf_of,
                now=moment,
                due_at=self.calendar.due_at,
                task_id=task_id,
            )

        return self._update(case_id, decide, request_id)

    def decide_task(self, task_id: str, **decision: Any) -> dict[str, Any]:
        """``decide`` for the node a task names (the same keywords), only while it is that task."""
        case_id, node_id, _ = parse_task_id(task_id)
        return self.decide(case_id, node_id, task_id=task_id, **decision)

    def withdraw(
        self,
        case_id: str,
        *,
        actor: str,
        actor_department: str | None = None,
        now: datetime | None = None,
    ) -> dict[str, Any]:
        def withdraw(case: Case, moment: datetime) -> None:
            case.withdraw(actor=actor, now=moment)

        return self._change_visible(case_id, actor, actor_department, now, withdraw)

    def urge(
        self,
        case_id: str,
        *,
        actor: str,
        actor_department: str | None = None,
        now: datetime | None = None,
    ) -> list[str]:
        urged: list[str] = []

        def urge(case: Case, moment: datetime) -> None:
            urged[:] = case.urge(actor=actor, now=moment)

        self._change_visible(case_id, actor, actor_department, now, urge)
        return urged

    def record_trip(
        self,
        case_id: str,
        *,
        purpose: str,
        actor: str,
        actor_department: str,
        now: datetime | None = None,
    ) -> dict[str, Any]:
        moment = self._now(now)
        return self._update(
            case_id,
            lambda case: case.record_trip(
                purpose=purpose, actor=actor, actor_department=actor_department, now=moment
            ),
        )

    def rate(
        self,
        case_id: str,
        *,
        score: int,
        comment: str,
        actor: str,
        actor_department: str | None = None,
        now: datetime | None = None,
    ) -> dict[str, Any]:
        def rate(case: Case, moment: datetime) -> None:
            case.rate(score=score, comment=comment, actor=actor, now=moment)

        return self._change_visible(case_id, actor, actor_department, now, rate)

    def mark_overdue(
        self,
        case_id: str,
        *,
        node_id: str | None = None,
        now: datetime | None = None,
        actor: str = SYSTEM_ACTOR,
    ) -> list[str]:
        moment = self._now(now)
        marked: list[str] = []

        def mark(case: Case) -> None:
            node_ids = [node_id] if node_id else [n["node_id"] for n in case.pending_nodes()]
            marked[:] = [each for each in node_ids if case.mark_overdue(each, moment, actor)]

        self._update(case_id, mark)
        return marked

    # -- queries -----------------------------------------------------------------------

    def get_case(
        self,
        case_id: str,
        *,
        viewer: str | None = None,
        viewer_department: str | None = None,
    ) -> dict[str, Any]:
        case = self._load_case(case_id)
        if viewer is not None and not case.may_see(viewer, viewer_department):
            raise NotFoundError("没有这个办件")
        return copy.deepcopy(case.view)

    # -- helpers -----------------------------------------------------------------------

    def _update(
        self, case_id: str, change: Callable[[Case], None], request_id: str | None = None
    ) -> dict[str, Any]:
        """Load, change, save; a keyed command (``request_id``) is saved with its receipt,
        and once that receipt exists its retry answers the case as it is, changing nothing."""

        def command() -> dict[str, Any]:
            case = self._load_case(case_id)
            if request_id is None:
                change(case)
                self.save(case)
            elif self._get_or_none(receipt_id(request_id)) is None:
                change(case)
                self.save(case, Receipt(request_id=request_id, case_id=case_id, timestamp=self._now(None)))
            return copy.deepcopy(case.view)

        # Parallel approvers of one case queue here instead of colliding in the store;
        # other instances still conflict, and the retry resolves those.
        with self._case_locks[hash(case_id) % len(self._case_locks)]:
            return retry_on_conflict(command)

    def _change_visible(
        self,
        case_id: str,
        actor: str,
        actor_department: str | None,
        now: datetime | None,
        change: Callable[[Case, datetime], None],
        request_id: str | None = None,
    ) -> dict[str, Any]:
        """A change by someone who must see the case (else it does not exist for them)."""
        moment = self._now(now)

        def visible_change(case: Case) -> None:
            if not case.may_see(actor, actor_department):
                raise NotFoundError("没有这个办件")
            change(case, moment)

        return self._update(case_id, visible_change, request_id)

    def _load_case(self, case_id: str) -> Case:
        case = self._get_or_none(_case_uuid(case_id))
        if not isinstance(case, Case):
            raise NotFoundError("没有这个办件")
        return case


def _case_uuid(case_id: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(case_id)
    except (ValueError, AttributeError, TypeError):
        return None

