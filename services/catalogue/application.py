"""The catalogue's commands and queries, with who may do what.

Editors of the owning department draft, revise and submit; the school office
(``reviewer``) reviews and may designate the lead department; the party committee
(``publisher``) publishes and retires. The public reads published versions only.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError
from pydantic import BaseModel, ConfigDict, Field

from services.catalogue.domain import ServiceItem, as_item, item_uuid
from services.catalogue.search import change_feed, search_index_for
from services.catalogue.sheet_import import ParsedRow
from services.catalogue.worklist import WorkList
from shared.contracts.catalogue import (
    Item,
    ItemChanged,
    ItemDraft,
    ItemRetired,
    ItemReviewed,
    ItemSubmitted,
    ReviewRequest,
)
from shared.departments import department_name
from shared.errors import (
    ConflictError,
    ForbiddenError,
    InvalidError,
    NotFoundError,
    OnetripError,
)
from shared.eventstore import OnetripApplication, Publication, retry_on_conflict
from shared.roles import PUBLISHER, REVIEWER, STAFF_ROLES, SUPERVISOR

T = TypeVar("T")

SEE_EVERY_DEPARTMENT = frozenset({REVIEWER, PUBLISHER, SUPERVISOR})
WORKING_STATUSES = frozenset({"draft", "returned", "submitted", "reviewed"})
AWAITING: dict[str, frozenset[str]] = {
    REVIEWER: frozenset({"submitted"}),
    PUBLISHER: frozenset({"reviewed"}),
    SUPERVISOR: WORKING_STATUSES,
}


class Actor(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    username: str = Field(min_length=1, max_length=100)
    name: str = ""
    department: str = ""
    roles: list[str] = Field(default_factory=list)

    def has(self, role: str) -> bool:
        return role in self.roles

    def can_see_unpublished(self, department: str) -> bool:
        if SEE_EVERY_DEPARTMENT.intersection(self.roles):
            return True
        return self.department == department and bool(STAFF_ROLES.intersection(self.roles))


def require_role(actor: Actor, role: str, doing: str) -> None:
    if not actor.has(role):
        raise ForbiddenError(f"{actor.name or actor.username}没有{doing}的权限")


def require_editor_of(actor: Actor, department: str) -> None:
    require_role(actor, "editor", "编辑服务事项")
    if actor.department != department:
        raise ForbiddenError(f"只有{department_name(department)}的编辑可以修改本部门的服务事项")


def visible_statuses(viewer: Actor, department: str) -> frozenset[str]:
    statuses = frozenset().union(*(AWAITING.get(role, frozenset()) for role in viewer.roles))
    if viewer.has("editor") and viewer.department == department:
        statuses |= WORKING_STATUSES
    return statuses


def new_item_id() -> str:
    return f"item-{uuid.uuid4().hex[:12]}"


def content_of(draft: ItemDraft) -> dict[str, Any]:
    return draft.content().model_dump(mode="json")


class CatalogueApplication(OnetripApplication):
    name = "catalogue"
    service = "catalogue"

    def __init__(self, env: Any = None) -> None:
        super().__init__(env)
        self.search_index = search_index_for(self)
        self.changes_after = change_feed(self)
        self.work_list = WorkList(self)

    # -- commands ------------------------------------------------------------------

    def create_item(self, actor: Actor, draft: ItemDraft) -> str:
        require_editor_of(actor, draft.department or actor.department)
        item_id = draft.item_id or new_item_id()
        item = ServiceItem(
            item_id=item_id,
            department=actor.department,
            content=content_of(draft),
            actor=actor.username,
        )
        try:
            self.save(item)
        except IntegrityError:
            raise ConflictError(f"事项编号已存在：{item_id}") from None
        return item_id

    def revise_item(self, actor: Actor, item_id: str, draft: ItemDraft) -> dict[str, Any]:
        if draft.item_id not in (None, item_id):
            raise InvalidError(f"事项编号不能修改：{item_id}")

        def revise(item: ServiceItem) -> dict[str, Any]:
            require_editor_of(actor, item.department)
            if draft.department not in (None, item.department):
                raise InvalidError("事项所属部门不能修改")
            item.revise(content_of(draft), actor.username)
            return item.working_copy()

        return self._change(item_id, revise)

    def submit_item(self, actor: Actor, item_id: str) -> str:
        def submit(item: ServiceItem) -> str:
            require_editor_of(actor, item.department)
            item.submit(actor.username)
            return item.status

        return self._change(item_id, submit)

    def review_item(self, actor: Actor, item_id: str, review: ReviewRequest) -> str:
        require_role(actor, "reviewer", "审核服务事项")

        def decide(item: ServiceItem) -> str:
            passed = review.decision == "pass"
            item.review(passed, review.comment, review.lead_department, actor.username)
            return item.status

        return self._change(item_id, decide)

    def publish_item(self, actor: Actor, item_id: str) -> int:
        require_role(actor, "publisher", "发布服务事项")
        version = self._change(item_id, lambda item: item.publish(actor.username))
        self.update_search()
        return version

    def retire_item(self, actor: Actor, item_id: str) -> str:
        require_role(actor, "publisher", "下线服务事项")
        self._change(item_id, lambda item: item.retire(actor.username))
        self.update_search()
        return "retired"

    def import_drafts(self, actor: Actor, rows: list[ParsedRow]) -> dict[str, Any]:
        """Each good row becomes a draft (of a new item, or of the existing item it names)."""
        require_role(actor, "editor", "导入服务事项")
        result: dict[str, Any] = {"created": [], "revised": [], "errors": []}
        for row in rows:
            try:
                if row.draft is None:
                    raise InvalidError(row.error or "无法读取")
                item_id, is_new = self._import_row(actor, row.draft)
            except OnetripError as exc:
                result["errors"].append({"row": row.row, "sheet": row.sheet, "detail": str(exc)})
                continue
            result["created"].append(item_id)
            if not is_new:
                result["revised"].append(item_id)
        return result

    def _import_row(self, actor: Actor, draft: ItemDraft) -> tuple[str, bool]:
        if draft.item_id and self.exists(draft.item_id):
            self.revise_item(actor, draft.item_id, draft)
            return draft.item_id, False
        return self.create_item(actor, draft), True

    def _change(self, item_id: str, decide: Callable[[ServiceItem], T]) -> T:
        def load_decide_save() -> T:
            item = self._load(item_id)
            result = decide(item)
            self.save(item)
            return result

        return retry_on_conflict(load_decide_save)

    # -- the search read model ---------------------------------------------------------

    def update_search(self) -> int:
        return self.search_index.catch_up(self.changes_after)

    def rebuild_search(self) -> int:
        return self.search_index.rebuild(self.changes_after)

    # -- queries ---------------------------------------------------------------------

    def exists(self, item_id: str) -> bool:
        try:
            self._load(item_id)
        except NotFoundError:
            return False
        return True

    def has_published(self, item_id: str) -> bool:
        return bool(self._load(item_id).published)

    def get_item(
        self, item_id: str, version: int | None = None, viewer: Actor | None = None
    ) -> dict[str, Any]:
        item = self._load(item_id)
        staff = viewer is not None and viewer.can_see_unpublished(item.department)
        if staff and version is None:
            return item.working_copy()
        found = item.published_version(version)
        if found is None or (not staff and found["status"] != "published"):
            raise NotFoundError(self._not_found_message(item_id, version))
        return found

    @staticmethod
    def _not_found_message(item_id: str, version: int | None) -> str:
        if version is None:
            return f"事项不存在或未发布：{item_id}"
        return f"事项 {item_id} 没有已发布的第 {version} 版"

    def search_items(
        self, q: str | None = None, department: str | None = None
    ) -> list[dict[str, Any]]:
        return self.search_index.search(q or None, department or None)

    def published_items(self, department: str | None = None) -> list[dict[str, Any]]:
        return self.search_index.published_items(department or None)

    def list_items(self, viewer: Actor, status: str | None = None) -> list[dict[str, Any]]:
        """Items on their way that the viewer may act on or oversee: a reviewer's submitted
        items, a publisher's reviewed ones, an editor's own department's unpublished drafts
        (draft, returned, submitted, reviewed); ``status`` narrows the list further."""
        if status is not None and status not in WORKING_STATUSES:
            raise InvalidError(f"只能列出未发布的事项状态：{status}")
        rows = self.work_list.working_items()
        return [
            row
            for row in rows
            if row["status"] in visible_statuses(viewer, row["department"])
            and (status is None or row["status"] == status)
        ]

    def _load(self, item_id: str) -> ServiceItem:
        try:
            item: ServiceItem = self.repository.get(item_uuid(item_id))
        except AggregateNotFoundError:
            raise NotFoundError(f"事项不存在：{item_id}") from None
        return item

    # -- integration events ------------------------------------------------------------

    def publication(self, domain_event: Any) -> Publication | None:
        describe = PUBLICATIONS.get(type(domain_event))
        if describe is None:
            return None
        wire_type, data = describe(domain_event)
        return Publication(wire_type, data, domain_event.actor)


def _changed(wire_type: str) -> Callable[[Any], tuple[str, dict[str, Any]]]:
    def describe(e: Any) -> tuple[str, dict[str, Any]]:
        data = ItemChanged(item_id=e.item_id, name=e.content["name"], department=e.department)
        return wire_type, data.model_dump(mode="json")

    return describe


def _submitted(e: Any) -> tuple[str, dict[str, Any]]:
    data = ItemSubmitted(item_id=e.item_id, department=e.department)
    return "item_submitted", data.model_dump(mode="json")


def _reviewed(e: Any) -> tuple[str, dict[str, Any]]:
    data = ItemReviewed(
        item_id=e.item_id,
        department=e.department,
        comment=e.comment,
        lead_department=e.lead_department,
    )
    return "item_reviewed", data.model_dump(mode="json")


def _returned(e: Any) -> tuple[str, dict[str, Any]]:
    data = ItemReviewed(
        item_id=e.item_id, department=e.department, comment=e.comment, lead_department=None
    )
    return "item_returned", data.model_dump(mode="json")


def _published(e: Any) -> tuple[str, dict[str, Any]]:
    item = as_item(e.item_id, e.department, e.content, "published", e.version)
    return "item_published", Item.model_validate(item).model_dump(mode="json")


def _retired(e: Any) -> tuple[str, dict[str, Any]]:
    data = ItemRetired(item_id=e.item_id, department=e.department, version=e.version)
    return "item_retired", data.model_dump(mode="json")


PUBLICATIONS: dict[type, Callable[[Any], tuple[str, dict[str, Any]]]] = {
    ServiceItem.Drafted: _changed("item_drafted"),
    ServiceItem.Revised: _changed("item_revised"),
    ServiceItem.Submitted: _submitted,
    ServiceItem.Reviewed: _reviewed,
    ServiceItem.Returned: _returned,
    ServiceItem.Published: _published,
    ServiceItem.Retired: _retired,
}
