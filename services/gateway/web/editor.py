"""Editors, reviewers and publishers: the item editor with its flow editor, the review queue,
publishing, and the 服务事项清单 spreadsheet in and out."""

from __future__ import annotations

import logging
from typing import Any

from nameko.exceptions import MethodNotFound, RemoteError
from pydantic import ValidationError
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Request, Response

from services.gateway.auth import User, admitted
from services.gateway.case_routes import attachment
from services.gateway.catalogue_actions import XLSX, uploaded_xlsx
from services.gateway.catalogue_routes import DepartmentQuery
from services.gateway.http import ApiError, validation_errors
from services.gateway.web import itemform, labels
from services.gateway.web.core import Pages, Visit, page, page_query
from shared.contracts.catalogue import ItemDraft, ReviewRequest
from shared.departments import DEPARTMENTS
from shared.roles import PUBLISHER, REVIEWER, SUPERVISOR

log = logging.getLogger(__name__)

# an item page's buttons: /items/<item_id>/<step> → its form, what the page says after
ITEM_STEPS: dict[str, tuple[type[Any] | None, str]] = {
    "submit": (None, "submitted"),
    "review": (ReviewRequest, "reviewed"),
    "publish": (None, "published"),
    "retire": (None, "retired"),
}


def validated_draft(item: dict[str, Any]) -> tuple[ItemDraft | None, list[str]]:
    try:
        return ItemDraft.model_validate(item), []
    except ValidationError as exc:
        return None, [labels.validation_message(error) for error in validation_errors(exc)]


class EditorPages(Pages):
    @page("GET", "/editor")
    def page_editor(self, request: Request) -> Response:
        visit = self._visit(request)
        user = admitted(visit.require_user(), self.items.create)
        items = self.items.search(department=user.department)
        return visit.render("editor.html", items=items, queue=self._queue(user, None))

    @page("GET", "/editor/items/new")
    def page_new_item(self, request: Request) -> Response:
        visit = self._visit(request)
        admitted(visit.require_user(), self.items.create)
        return self._item_form(visit, itemform.blank_item(), None)

    @page("POST", "/editor/items/new")
    def page_create_item(self, request: Request) -> Response:
        visit = self._visit(request)
        editor = admitted(visit.require_user(), self.items.create)
        slug = request.form.get("item_id", "").strip()
        return self._edited(visit, editor, request.form, None, slug=slug)

    @page("GET", "/editor/items/<item_id>")
    def page_edit_item(self, request: Request, item_id: str) -> Response:
        visit = self._visit(request)
        editor = admitted(visit.require_user(), self.items.revise)
        item = self.items.item(editor, item_id)
        return self._item_form(visit, item, item, done=request.args.get("done", "")[:20])

    @page("POST", "/editor/items/<item_id>")
    def page_revise_item(self, request: Request, item_id: str) -> Response:
        visit = self._visit(request)
        editor = admitted(visit.require_user(), self.items.revise)
        saved = self.items.item(editor, item_id)
        return self._edited(visit, editor, request.form, saved)

    def _edited(
        self, visit: Visit, editor: User, form: MultiDict[str, str], saved: dict[str, Any] | None,
        slug: str = "",
    ) -> Response:
        """The form re-shown after an editing button or refused input; else the draft saved
        (created when there is none yet) and, for "submit", sent for review."""
        item = itemform.item_from_form(form)
        action = form.get("action", "save")
        if itemform.apply_action(item, action):
            return self._item_form(visit, item, saved, slug=slug)
        meant = itemform.without_blank_rows(item)
        draft, errors = validated_draft(meant if saved else {**meant, "item_id": slug or None})
        if draft is None:
            return self._item_form(visit, item, saved, errors=errors, slug=slug)
        if saved is None:
            item_id = self.items.create(editor, draft)["item_id"]
        else:
            item_id = saved["item_id"]
            self.items.revise(editor, item_id, draft)
        if action == "submit":
            self.items.submit(editor, item_id)
            return visit.redirect(f"/editor/items/{item_id}?done=submitted")
        return visit.redirect(
            f"/editor/items/{item_id}?done={'preview' if action == 'preview' else 'saved'}"
        )

    def _item_form(
        self,
        visit: Visit,
        item: dict[str, Any],
        saved: dict[str, Any] | None,
        errors: list[str] | None = None,
        slug: str = "",
        done: str = "",
    ) -> Response:
        return visit.render(
            "item_edit.html",
            status=422 if errors else 200,
            item=item,
            saved_item=saved,
            errors=errors or [],
            slug=slug,
            done=done,
            departments=DEPARTMENTS,
        )

    # -- the lifecycle buttons on an item's page --------------------------------------------

    @page("POST", "/items/<item_id>/<any(submit, review, publish, retire):step>")
    def page_item_step(self, request: Request, item_id: str, step: str) -> Response:
        command, done = ITEM_STEPS[step]
        return self._button(request, getattr(self.items, step), item_id, command=command,
                            then=lambda answer: f"/items/{item_id}?done={done}")

    # -- the review queue ---------------------------------------------------------------------

    @page("GET", "/review")
    def page_review_queue(self, request: Request) -> Response:
        visit = self._visit(request)
        user = visit.require_user(REVIEWER, PUBLISHER, SUPERVISOR)
        status = "reviewed" if PUBLISHER in user.roles else "submitted"
        return visit.render("review.html", queue=self._queue(user, status), awaiting=status)

    def _queue(self, user: User, status: str | None) -> list[dict[str, Any]] | None:
        """Items awaiting someone; None when the catalogue cannot list unpublished items yet."""
        try:
            return self.items.awaiting(user, status)
        except (ApiError, RemoteError, MethodNotFound) as exc:
            log.info("review queue unavailable: %s", exc)
            return None

    # -- the spreadsheet ----------------------------------------------------------------------

    @page("GET", "/editor/catalogue.xlsx")
    def page_export(self, request: Request) -> Response:
        visit = self._visit(request)
        user = admitted(visit.require_user(), self.items.export)
        department = page_query(request, DepartmentQuery).department
        content = self.items.export(user, department)
        filename = f"服务事项清单-{DEPARTMENTS.get(department or '', '全校')}.xlsx"
        return visit.finish(attachment(content, XLSX, filename))

    @page("POST", "/editor/import", uploads=1)
    def page_import(self, request: Request) -> Response:
        visit = self._visit(request)
        editor = admitted(visit.require_user(), self.items.import_)
        result = self.items.import_(editor, uploaded_xlsx(request))
        return visit.render("import_result.html", result=result)
