"""Editors, reviewers and publishers: the item editor with its flow editor, the review queue,
publishing, and the 服务事项清单 spreadsheet in and out."""

from __future__ import annotations

import json
import logging
from typing import Any

from nameko.exceptions import MethodNotFound, RemoteError
from pydantic import ValidationError
from werkzeug.wrappers import Request, Response

from services.gateway.auth import EDITOR, PUBLISHER, REVIEWER, SUPERVISOR, User
from services.gateway.backends import ask
from services.gateway.catalogue_routes import known_item_id
from services.gateway.http import ApiError, validation_errors
from services.gateway.web import itemform, labels
from services.gateway.web.core import Visit, api_request, page
from shared.contracts.catalogue import ItemDraft, ReviewRequest
from shared.departments import DEPARTMENTS

log = logging.getLogger(__name__)

SAVING_ACTIONS = ("save", "preview", "submit")


class EditorPages:
    catalogue: Any
    _visit: Any
    export_catalogue: Any
    import_catalogue: Any

    @page("GET", "/editor")
    def page_editor(self, request: Request) -> Response:
        visit = self._visit(request)
        user = visit.require_user(EDITOR)
        items = ask(self.catalogue, "search_items", department=user.department)
        return visit.render("editor.html", items=items, queue=self._queue(user, None))

    @page("GET", "/editor/items/new")
    def page_new_item(self, request: Request) -> Response:
        visit = self._visit(request)
        visit.require_user(EDITOR)
        return self._item_form(visit, itemform.blank_item(), None)

    @page("POST", "/editor/items/new")
    def page_create_item(self, request: Request) -> Response:
        visit = self._visit(request)
        editor = visit.require_user(EDITOR)
        item = itemform.item_from_form(request.form)
        item_id = request.form.get("item_id", "").strip() or None
        if itemform.apply_action(item, request.form.get("action", "save")):
            return self._item_form(visit, item, None, slug=item_id or "")
        draft, errors = validated_draft({**itemform.without_blank_rows(item), "item_id": item_id})
        if draft is None:
            return self._item_form(visit, item, None, errors=errors, slug=item_id or "")
        created = ask(self.catalogue, "create_item", editor.as_actor(), draft)
        return self._after_save(visit, editor, created["item_id"], request.form.get("action", ""))

    @page("GET", "/editor/items/<item_id>")
    def page_edit_item(self, request: Request, item_id: str) -> Response:
        visit = self._visit(request)
        editor = visit.require_user(EDITOR)
        item = ask(self.catalogue, "get_item", known_item_id(item_id), viewer=editor.as_actor())
        return self._item_form(visit, item, item, done=request.args.get("done", "")[:20])

    @page("POST", "/editor/items/<item_id>")
    def page_revise_item(self, request: Request, item_id: str) -> Response:
        visit = self._visit(request)
        editor = visit.require_user(EDITOR)
        saved = ask(self.catalogue, "get_item", known_item_id(item_id), viewer=editor.as_actor())
        item = itemform.item_from_form(request.form)
        if itemform.apply_action(item, request.form.get("action", "save")):
            return self._item_form(visit, item, saved)
        draft, errors = validated_draft(itemform.without_blank_rows(item))
        if draft is None:
            return self._item_form(visit, item, saved, errors=errors)
        ask(self.catalogue, "revise_item", editor.as_actor(), saved["item_id"], draft)
        return self._after_save(visit, editor, saved["item_id"], request.form.get("action", ""))

    def _after_save(self, visit: Visit, editor: User, item_id: str, action: str) -> Response:
        if action == "submit":
            ask(self.catalogue, "submit_item", editor.as_actor(), item_id)
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

    @page("POST", "/items/<item_id>/submit")
    def page_submit_item(self, request: Request, item_id: str) -> Response:
        visit = self._visit(request)
        editor = visit.require_user(EDITOR)
        ask(self.catalogue, "submit_item", editor.as_actor(), known_item_id(item_id))
        return visit.redirect(f"/items/{item_id}?done=submitted")

    @page("POST", "/items/<item_id>/review")
    def page_review_item(self, request: Request, item_id: str) -> Response:
        visit = self._visit(request)
        reviewer = visit.require_user(REVIEWER)
        review = ReviewRequest.model_validate(
            {
                "decision": request.form.get("decision", ""),
                "comment": request.form.get("comment", ""),
                "lead_department": request.form.get("lead_department") or None,
            }
        )
        ask(
            self.catalogue,
            "review_item",
            reviewer.as_actor(),
            known_item_id(item_id),
            review.decision,
            review.comment,
            lead_department=review.lead_department,
        )
        return visit.redirect(f"/items/{item_id}?done=reviewed")

    @page("POST", "/items/<item_id>/publish")
    def page_publish_item(self, request: Request, item_id: str) -> Response:
        visit = self._visit(request)
        publisher = visit.require_user(PUBLISHER)
        ask(self.catalogue, "publish_item", publisher.as_actor(), known_item_id(item_id))
        return visit.redirect(f"/items/{item_id}?done=published")

    @page("POST", "/items/<item_id>/retire")
    def page_retire_item(self, request: Request, item_id: str) -> Response:
        visit = self._visit(request)
        publisher = visit.require_user(PUBLISHER)
        ask(self.catalogue, "retire_item", publisher.as_actor(), known_item_id(item_id))
        return visit.redirect(f"/items/{item_id}?done=retired")

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
            return list(ask(self.catalogue, "list_items", viewer=user.as_actor(), status=status))
        except (ApiError, RemoteError, MethodNotFound) as exc:
            log.info("review queue unavailable: %s", exc)
            return None

    # -- the spreadsheet ----------------------------------------------------------------------

    @page("GET", "/editor/catalogue.xlsx")
    def page_export(self, request: Request) -> Response:
        visit = self._visit(request)
        visit.require_user()
        return visit.finish(self.export_catalogue(api_request(request, visit)))

    @page("POST", "/editor/import", uploads=1)
    def page_import(self, request: Request) -> Response:
        visit = self._visit(request)
        visit.require_user(EDITOR)
        reply = self.import_catalogue(api_request(request, visit))
        return visit.render("import_result.html", result=json.loads(reply.get_data(as_text=True)))


def validated_draft(item: dict[str, Any]) -> tuple[dict[str, Any] | None, list[str]]:
    try:
        draft = ItemDraft.model_validate(item)
    except ValidationError as exc:
        return None, [labels.validation_message(error) for error in validation_errors(exc)]
    return draft.model_dump(mode="json"), []
