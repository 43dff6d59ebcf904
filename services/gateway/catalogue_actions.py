"""Each action on the catalogue (服务事项清单), written once: public reads, the editorial
lifecycle and the spreadsheet. The JSON routes and the pages call these and shape the answer."""
from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from werkzeug.wrappers import Request

from services.gateway.auth import User, needs
from services.gateway.backends import Service, ask
from services.gateway.doors import upload_limit_bytes
from services.gateway.http import BadRequestError, PayloadTooLargeError, UnsupportedMediaTypeError
from shared.contracts.catalogue import ItemDraft, ReviewRequest
from shared.errors import NotFoundError
from shared.roles import EDITOR, PUBLISHER, REVIEWER

Item = dict[str, Any]
ITEM_ID_MAX = 100
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ZIP_MAGIC = b"PK\x03\x04"


def known_item_id(item_id: str) -> str:
    if len(item_id) > ITEM_ID_MAX:
        raise NotFoundError("没有这个事项")
    return item_id


def actor_of(user: User | None) -> dict[str, Any] | None:
    return user.as_actor() if user is not None else None


def uploaded_xlsx(request: Request) -> bytes:
    """The spreadsheet sent in the form's ``file``: within the upload limit, and a zip (what
    .xlsx is). A body that says it is larger is refused unread."""
    limit = upload_limit_bytes()
    too_large = PayloadTooLargeError(f"文件超过 {limit // (1024 * 1024)} MB")
    if (request.content_length or 0) > limit:
        raise too_large
    upload = request.files.get("file")
    if upload is None:
        raise BadRequestError("需要 multipart/form-data 的 file 字段")
    content: bytes = upload.read(limit + 1)
    if len(content) > limit:
        raise too_large
    if not content.startswith(ZIP_MAGIC):
        raise UnsupportedMediaTypeError("只接受 .xlsx 电子表格")
    return content


@dataclass(frozen=True)
class CatalogueActions:
    catalogue: Service

    def _ask(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return ask(self.catalogue, method, *args, **kwargs)

    # -- reads (the public sees what is published; editors their drafts too) --------------

    def search(self, q: str = "", department: str | None = None) -> list[Item]:
        return list(self._ask("search_items", q=q.strip() or None, department=department))

    def item(self, viewer: User | None, item_id: str, version: int | None = None) -> Item:
        return self._ask(
            "get_item", known_item_id(item_id), version=version, viewer=actor_of(viewer)
        )

    def flowchart(self, viewer: User | None, item_id: str, version: int | None = None) -> str:
        return self._ask(
            "flowchart_svg", known_item_id(item_id), version=version, viewer=actor_of(viewer)
        )

    def awaiting(self, user: User, status: str | None) -> list[Item]:
        """Items not yet published that this user may see, in ``status`` (any when None)."""
        return list(self._ask("list_items", viewer=user.as_actor(), status=status))

    # -- the editorial lifecycle ------------------------------------------------------------

    @needs(EDITOR)
    def create(self, user: User, draft: ItemDraft) -> dict[str, Any]:
        return self._ask("create_item", user.as_actor(), draft.model_dump(mode="json"))

    @needs(EDITOR)
    def revise(self, user: User, item_id: str, draft: ItemDraft) -> Item:
        return self._ask(
            "revise_item", user.as_actor(), known_item_id(item_id), draft.model_dump(mode="json")
        )

    @needs(EDITOR)
    def submit(self, user: User, item_id: str) -> dict[str, Any]:
        return self._ask("submit_item", user.as_actor(), known_item_id(item_id))

    @needs(REVIEWER)
    def review(self, user: User, item_id: str, review: ReviewRequest) -> dict[str, Any]:
        return self._ask(
            "review_item", user.as_actor(), known_item_id(item_id), review.decision,
            review.comment, lead_department=review.lead_department,
        )

    @needs(PUBLISHER)
    def publish(self, user: User, item_id: str) -> dict[str, Any]:
        return self._ask("publish_item", user.as_actor(), known_item_id(item_id))

    @needs(PUBLISHER)
    def retire(self, user: User, item_id: str) -> dict[str, Any]:
        return self._ask("retire_item", user.as_actor(), known_item_id(item_id))

    # -- the spreadsheet ------------------------------------------------------------------

    @needs(staff=True)
    def export(self, user: User, department: str | None) -> bytes:
        return base64.b64decode(self._ask("export_xlsx", department=department))

    @needs(EDITOR)
    def import_(self, user: User, content: bytes) -> dict[str, Any]:
        encoded = base64.b64encode(content).decode("ascii")
        return self._ask("import_xlsx", user.as_actor(), encoded)
