"""The approval application: commands load → call → save, queries return plain dicts.

Cases resolve their flow from the item versions learnt from the catalogue's
``item_published`` events (``learn_item``), never by calling the catalogue. Every
command that touches a case is retried on a version conflict, so parallel approvers'
decisions all land exactly once.
"""
from __future__ import annotations

import copy
import threading
import uuid
from collections.abc import Callable, Collection, Mapping
from datetime import date, datetime
from typing import Any, TypeVar

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import DomainEventProtocol

from services.approval.calendar import SHANGHAI, WorkingCalendar, in_shanghai
from services.approval.domain import (
    WIRE_TYPES,
    Case,
    Delegations,
    ItemVersion,
    PublishedItem,
    Receipt,
    delegations_id,
    item_version_id,
    parse_task_id,
    published_item_id,
    receipt_id,
    requested_case_id,
)
from shared.contracts.approval import PinnedItem
from shared.errors import ConflictError, InvalidError, NotFoundError
from shared.eventstore import OnetripApplication, Publication, retry_on_conflict
from shared.roles import APPROVER

T = TypeVar("T")
SYSTEM_ACTOR = "system"


class ApprovalApplication(OnetripApplication):
    name = "approval"
    service = "approval"
    inbox: Any = None  # the service's read model of pending nodes (services.approval.inbox)

    def __init__(
        self, env: Mapping[str, str] | None = None, calendar: WorkingCalendar | None = None
    ) -> None:
        super().__init__(env=env)
        self.calendar = calendar or WorkingCalendar.from_env(self.env)
        self._case_locks = [threading.Lock() for _ in range(64)]

    # -- items (from the catalogue's item_published events) ----------------------------

    def learn_item(self, item: Mapping[str, Any], now: datetime | None = None) -> bool:
        pinned = PinnedItem.model_validate(item).model_dump(mode="json")
        moment = self._now(now)
        return retry_on_conflict(lambda: self._learn(pinned, moment))

    def _learn(self, pinned: dict[str, Any], now: datetime) -> bool:
        line = self._get_or_none(published_item_id(pinned["item_id"]))
        line = line or PublishedItem(item_id=pinned["item_id"], timestamp=now)
        if not line.learn(pinned["version"], now):
            return False
        version = ItemVersion(
            item_id=pinned["item_id"], item_version=pinned["version"], item=pinned, timestamp=now
        )
        self.save(line, version)
        return True

    def retire_item(
        self, item_id: str, version: int | None = None, now: datetime | None = None
    ) -> None:
        moment = self._now(now)

        def command() -> None:
            line = self._get_or_none(published_item_id(item_id))
            if line is not None:
                line.retire(version, moment)
                self.save(line)

        retry_on_conflict(command)

    def published_item(self, item_id: str) -> dict[str, Any]:
        line = self._get_or_none(published_item_id(item_id))
        if line is None or line.current_version is None:
            raise InvalidError(f"事项不存在或尚未发布：{item_id}")
        return self.item_version(item_id, line.current_version)

    def item_version(self, item_id: str, version: int) -> dict[str, Any]:
        pinned = self._get_or_none(item_version_id(item_id, version))
        if pinned is None:
            raise NotFoundError(f"没有事项 {item_id} 的第 {version} 版")
        return copy.deepcopy(pinned.item)

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
                case_id=new_case_id,
                item=item,
                applicant=applicant,
                applicant_department=applicant_department,
                form=form,
                materials=materials,
                own_files=own_files,
                now=moment,
                due_at=self.calendar.due_at,
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
        moment = self._now(now)
        return self._update_visible(
            case_id,
            actor,
            actor_department,
            lambda case: case.resubmit(
                form=form,
                materials=materials,
                actor=actor,
                own_files=own_files,
                now=moment,
                due_at=self.calendar.due_at,
            ),
            request_id,
        )

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

    def decide_task(
        self,
        task_id: str,
        *,
        decision: str,
        comment: str,
        actor: str,
        actor_department: str | None,
        actor_roles: Collection[str],
        now: datetime | None = None,
        request_id: str | None = None,
    ) -> dict[str, Any]:
        case_id, node_id, _ = parse_task_id(task_id)
        return self.decide(
            case_id,
            node_id,
            decision=decision,
            comment=comment,
            actor=actor,
            actor_department=actor_department,
            actor_roles=actor_roles,
            now=now,
            task_id=task_id,
            request_id=request_id,
        )

    def withdraw(
        self,
        case_id: str,
        *,
        actor: str,
        actor_department: str | None = None,
        now: datetime | None = None,
    ) -> dict[str, Any]:
        moment = self._now(now)
        return self._update_visible(
            case_id, actor, actor_department, lambda case: case.withdraw(actor=actor, now=moment)
        )

    def urge(
        self,
        case_id: str,
        *,
        actor: str,
        actor_department: str | None = None,
        now: datetime | None = None,
    ) -> list[str]:
        moment = self._now(now)
        urged: list[str] = []

        def urge(case: Case) -> None:
            urged[:] = case.urge(actor=actor, now=moment)

        self._update_visible(case_id, actor, actor_department, urge)
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
        moment = self._now(now)
        return self._update_visible(
            case_id,
            actor,
            actor_department,
            lambda case: case.rate(score=score, comment=comment, actor=actor, now=moment),
        )

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

    # -- delegation (委托) ---------------------------------------------------------------

    def delegate(
        self,
        *,
        delegator: str,
        department: str,
        delegate: str,
        starts_on: date,
        ends_on: date,
        now: datetime | None = None,
    ) -> dict[str, Any]:
        moment = self._now(now)

        def command() -> dict[str, Any]:
            book = self._delegations(delegate, moment)
            granted = book.grant(
                delegator=delegator,
                department=department,
                starts_on=starts_on,
                ends_on=ends_on,
                now=moment,
            )
            self.save(book)
            return _delegation_dict(granted)

        return retry_on_conflict(command)

    def revoke_delegation(
        self, *, delegator: str, delegate: str, now: datetime | None = None
    ) -> None:
        moment = self._now(now)

        def command() -> None:
            book = self._get_or_none(delegations_id(delegate))
            if book is None:
                raise NotFoundError("没有这项委托")
            book.revoke(delegator=delegator, now=moment)
            self.save(book)

        retry_on_conflict(command)

    def delegations_of(self, delegate: str) -> list[dict[str, Any]]:
        book = self._get_or_none(delegations_id(delegate))
        return [] if book is None else [_delegation_dict(each) for each in book.delegations]

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

    # -- the outbox: what each stored event says on the bus -----------------------------

    def publication(self, domain_event: DomainEventProtocol[Any]) -> Publication | None:
        wire_type = WIRE_TYPES.get(type(domain_event))
        if wire_type is None:
            return None
        event: Any = domain_event
        return Publication(wire_type, event.data, event.actor)

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

    def _update_visible(
        self,
        case_id: str,
        actor: str,
        actor_department: str | None,
        change: Callable[[Case], None],
        request_id: str | None = None,
    ) -> dict[str, Any]:
        def visible_change(case: Case) -> None:
            if not case.may_see(actor, actor_department):
                raise NotFoundError("没有这个办件")
            change(case)

        return self._update(case_id, visible_change, request_id)

    def _load_case(self, case_id: str) -> Case:
        case = self._get_or_none(_case_uuid(case_id))
        if not isinstance(case, Case):
            raise NotFoundError("没有这个办件")
        return case

    def _delegations(self, delegate: str, now: datetime) -> Delegations:
        book = self._get_or_none(delegations_id(delegate))
        return book or Delegations(delegate=delegate, timestamp=now)

    def _delegator(self, actor: str, department: str, now: datetime) -> str | None:
        book = self._get_or_none(delegations_id(actor))
        return None if book is None else book.delegator_for(department, now)

    def _get_or_none(self, aggregate_id: uuid.UUID | None) -> Any:
        if aggregate_id is None:
            return None
        try:
            return self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None

    @staticmethod
    def _now(now: datetime | None) -> datetime:
        return in_shanghai(now) if now is not None else datetime.now(SHANGHAI)


def _case_uuid(case_id: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(case_id)
    except (ValueError, AttributeError, TypeError):
        return None


def _delegation_dict(delegation: Any) -> dict[str, Any]:
    return {
        "delegator": delegation.delegator,
        "delegate": delegation.delegate,
        "department": delegation.department,
        "starts_on": delegation.starts_on.isoformat(),
        "ends_on": delegation.ends_on.isoformat(),
    }
