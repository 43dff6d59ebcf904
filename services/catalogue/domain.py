"""The service item (服务事项) and its lifecycle: draft → submitted → reviewed | returned →
published (a new immutable version each time) → retired.

An item has one working copy (what editors write) and the published versions (what the
public reads). Editing a published item makes a new draft; the published version stays
served until the next publish. Content is kept as the JSON form of
``shared.contracts.catalogue.ItemContent``: each ``Published`` event carries the full content
of the version it publishes, so every version can be read back and relayed on its own.
"""

from __future__ import annotations

import uuid
from typing import Any

from eventsourcing.domain import Aggregate, event

from shared.errors import ConflictError

ITEM_NAMESPACE = uuid.UUID("a4c2d1f0-9f0e-4c55-8b1e-2f6a7e0c9b31")

Content = dict[str, Any]

EDITABLE = frozenset({"draft", "returned", "published", "retired"})
SUBMITTABLE = frozenset({"draft", "returned"})

STATUS_NAMES = {
    "draft": "草稿",
    "submitted": "已提交",
    "returned": "已退回",
    "reviewed": "已审核",
    "published": "已发布",
    "retired": "已下线",
}


def item_uuid(item_id: str) -> uuid.UUID:
    return uuid.uuid5(ITEM_NAMESPACE, item_id)


class ServiceItem(Aggregate):
    # Every event names the item, its department and who acted, so that each event alone
    # is enough for the search projection and for the integration event on the bus.
    class Event(Aggregate.Event):
        item_id: str
        department: str
        actor: str

    class Drafted(Event, Aggregate.Created):
        content: Content

    class Revised(Event):
        content: Content

    class Submitted(Event):
        pass

    class Reviewed(Event):
        comment: str
        lead_department: str | None

    class Returned(Event):
        comment: str

    class Published(Event):
        version: int
        content: Content

    class Retired(Event):
        version: int

    @staticmethod
    def create_id(item_id: str) -> uuid.UUID:
        return item_uuid(item_id)

    @event(Drafted)
    def __init__(self, item_id: str, department: str, content: Content, actor: str) -> None:
        self.item_id = item_id
        self.department = department
        self.content = content
        self.status = "draft"
        self.review_comment = ""
        self.published: dict[int, Content] = {}
        self.live_version: int | None = None
        self.last_actor = actor

    # -- commands ------------------------------------------------------------------

    def revise(self, content: Content, actor: str) -> None:
        self._require(self.status in EDITABLE, "已提交审核的事项不能修改，请等待审核结果")
        self._revised(content, self.item_id, self.department, actor)

    def submit(self, actor: str) -> None:
        self._require(self.status in SUBMITTABLE, "只有草稿或被退回的事项可以提交审核")
        self._submitted(self.item_id, self.department, actor)

    def review(self, passed: bool, comment: str, lead_department: str | None, actor: str) -> None:
        self._require(self.status == "submitted", "只有已提交的事项可以审核")
        if passed:
            self._reviewed(comment, lead_department, self.item_id, self.department, actor)
        else:
            self._returned(comment, self.item_id, self.department, actor)

    def publish(self, actor: str) -> int:
        self._require(self.status == "reviewed", "只有审核通过的事项可以发布")
        version = self.next_version
        self._published(version, dict(self.content), self.item_id, self.department, actor)
        return version

    def retire(self, actor: str) -> int:
        self._require(self.live_version is not None, "事项未发布，无需下线")
        version = self.live_version
        assert version is not None
        self._retired(version, self.item_id, self.department, actor)
        return version

    @staticmethod
    def _require(condition: bool, message: str) -> None:
        if not condition:
            raise ConflictError(message)

    # -- events ----------------------------------------------------------------------

    @event(Revised)
    def _revised(self, content: Content, item_id: str, department: str, actor: str) -> None:
        self.content = content
        self.status = "draft"
        self.last_actor = actor

    @event(Submitted)
    def _submitted(self, item_id: str, department: str, actor: str) -> None:
        self.status = "submitted"
        self.last_actor = actor

    @event(Reviewed)
    def _reviewed(
        self,
        comment: str,
        lead_department: str | None,
        item_id: str,
        department: str,
        actor: str,
    ) -> None:
        self.status = "reviewed"
        self.review_comment = comment
        if lead_department is not None:
            self.content = {**self.content, "lead_department": lead_department}
        self.last_actor = actor

    @event(Returned)
    def _returned(self, comment: str, item_id: str, department: str, actor: str) -> None:
        self.status = "returned"
        self.review_comment = comment
        self.last_actor = actor

    @event(Published)
    def _published(
        self, version: int, content: Content, item_id: str, department: str, actor: str
    ) -> None:
        self.published[version] = content
        self.live_version = version
        self.status = "published"
        self.last_actor = actor

    @event(Retired)
    def _retired(self, version: int, item_id: str, department: str, actor: str) -> None:
        self.live_version = None
        if self.status == "published":
            self.status = "retired"
        self.last_actor = actor

    # -- reading ---------------------------------------------------------------------

    @property
    def next_version(self) -> int:
        return len(self.published) + 1

    @property
    def has_pending_changes(self) -> bool:
        return self.status not in ("published", "retired")

    def working_copy(self) -> dict[str, Any]:
        version = self.next_version if self.has_pending_changes else len(self.published)
        return self._as_item(self.content, self.status, version)

    def published_version(self, version: int | None = None) -> dict[str, Any] | None:
        """A published version (the live one by default); None when there is none."""
        number = self.live_version if version is None else version
        if number is None or number not in self.published:
            return None
        status = "published" if self.live_version is not None else "retired"
        return self._as_item(self.published[number], status, number)

    def _as_item(self, content: Content, status: str, version: int) -> dict[str, Any]:
        comment = self.review_comment if status in ("returned", "reviewed") else ""
        return as_item(self.item_id, self.department, content, status, version, comment)


def as_item(
    item_id: str,
    department: str,
    content: Content,
    status: str,
    version: int,
    review_comment: str = "",
) -> dict[str, Any]:
    return {
        **content,
        "item_id": item_id,
        "department": department,
        "mode": content["target"]["mode"],
        "status": status,
        "version": version,
        "review_comment": review_comment,
    }
