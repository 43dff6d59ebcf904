"""The applicant's pages: apply, my cases, resubmit, withdraw, urge, rate, my notifications;
and the case page every party to a case shares (timeline, materials, decisions)."""

from __future__ import annotations

import logging
import math
from typing import Any

import eventlet
from nameko.exceptions import MethodNotFound, RemoteError
from werkzeug.datastructures import FileStorage
from werkzeug.wrappers import Request, Response

from services.gateway.auth import APPLICANT, User
from services.gateway.backends import ask
from services.gateway.catalogue_routes import known_item_id
from services.gateway.files import FileStore, FileTooLargeError, UnsupportedFileTypeError
from services.gateway.http import (
    ApiError,
    ForbiddenError,
    PayloadTooLargeError,
    UnsupportedMediaTypeError,
)
from services.gateway.web.approver import may_record_trip
from services.gateway.web.core import CSRF_HEADER, api_request, json_endpoint, page
from services.gateway.web.timeline import timeline_of
from shared.contracts.approval import (
    CLOSED_STATUSES,
    OPEN_STATUSES,
    CaseSubmission,
    RatingRequest,
    Resubmission,
)

log = logging.getLogger(__name__)
CASES_PER_PAGE = 20
MATERIAL_FILES = 10  # files one apply form may carry when the page's script is not running

UNAVAILABLE = (ApiError, RemoteError, MethodNotFound)


def form_answers(request: Request, materials: list[dict[str, Any]]) -> dict[str, str]:
    answers = {}
    for index, material in enumerate(materials):
        text = request.form.get(f"form-{index}", "").strip()
        if material["kind"] == "form" and text:
            answers[material["name"]] = text[:5000]
    return answers


class ApplicantPages:
    approval: Any
    catalogue: Any
    audit: Any
    notify: Any
    _display_names: Any
    files: FileStore

    _visit: Any
    _own_files: Any
    upload_file: Any
    download_file: Any

    # -- apply ------------------------------------------------------------------------------

    @page("GET", "/items/<item_id>/apply")
    def page_apply(self, request: Request, item_id: str) -> Response:
        visit = self._visit(request)
        visit.require_user(APPLICANT)
        item = ask(self.catalogue, "get_item", known_item_id(item_id))
        return visit.render("apply.html", item=item, form={}, materials={}, uploaded={})

    @page("POST", "/items/<item_id>/apply", uploads=MATERIAL_FILES)
    def page_apply_post(self, request: Request, item_id: str) -> Response:
        visit = self._visit(request)
        user = visit.require_user(APPLICANT)
        item = ask(self.catalogue, "get_item", known_item_id(item_id))
        body = CaseSubmission(
            item_id=item["item_id"],
            form=form_answers(request, item["materials"]),
            materials=self._chosen_files(request, item["materials"], user),
        )
        case = ask(
            self.approval,
            "submit_case",
            user.as_actor(),
            body.model_dump(mode="json"),
            self._own_files(user, body.materials),
        )
        return visit.redirect(f"/cases/{case['case_id']}")

    def _chosen_files(
        self, request: Request, materials: list[dict[str, Any]], user: User
    ) -> dict[str, str]:
        """Each file material's upload: already sent by the page's script, or sent with the form."""
        chosen = {}
        for index, material in enumerate(materials):
            if material["kind"] != "file":
                continue
            file_id = request.form.get(f"material-{index}", "").strip()[:200]
            upload = request.files.get(f"file-{index}")
            if not file_id and upload is not None and upload.filename:
                file_id = self._store(upload, user)
            if file_id:
                chosen[material["name"]] = file_id
        return chosen

    def _store(self, upload: FileStorage, user: User) -> str:
        try:
            return self.files.save(upload.stream, upload.filename, owner=user.username).file_id
        except FileTooLargeError as exc:
            raise PayloadTooLargeError(str(exc)) from exc
        except UnsupportedFileTypeError as exc:
            raise UnsupportedMediaTypeError(str(exc)) from exc

    @json_endpoint("POST", "/files", uploads=1)
    def page_upload(self, request: Request) -> Response:
        """The apply form's script uploads here, with its CSRF header: the API's own upload."""
        if not request.headers.get(CSRF_HEADER):
            raise ForbiddenError("缺少校验码(CSRF)")
        visit = self._visit(request)
        visit.require_user()
        return visit.finish(self.upload_file(api_request(request, visit)))

    @page("GET", "/files/<file_id>")
    def page_download(self, request: Request, file_id: str) -> Response:
        visit = self._visit(request)
        visit.require_user()
        return visit.finish(self.download_file(api_request(request, visit), file_id))

    # -- my cases -------------------------------------------------------------------------------

    @page("GET", "/cases")
    def page_cases(self, request: Request) -> Response:
        visit = self._visit(request)
        user = visit.require_user()
        raw = request.args.get("page", "1")
        number = int(raw) if raw.isdigit() and 0 < len(raw) < 7 and int(raw) > 0 else 1
        listed = ask(
            self.approval, "case_page", user.as_actor(), CASES_PER_PAGE,
            (number - 1) * CASES_PER_PAGE,
        )
        pages = max(1, math.ceil(listed["total"] / CASES_PER_PAGE))
        if number > pages:  # past the last page (cases withdrawn meanwhile, an old link)
            return visit.redirect(f"/cases?page={pages}")
        return visit.render(
            "cases.html", cases=listed["cases"], total=listed["total"], page=number, pages=pages
        )

    @page("GET", "/cases/<case_id>")
    def page_case(self, request: Request, case_id: str) -> Response:
        visit = self._visit(request)
        user = visit.require_user()
        history = eventlet.spawn(self._history, case_id[:100])  # read while the case is asked for
        try:
            case = ask(self.approval, "get_case", user.as_actor(), case_id[:100])
        except BaseException:
            history.kill()
            raise
        steps, complete = timeline_of(case, history.wait())
        return visit.render(
            "case.html",
            case=case,
            steps=steps,
            complete_history=complete,
            names=self._display_names(
                {case["applicant"]} | {s["actor"] for s in steps if s.get("actor")}
            ),
            mine=case["applicant"] == user.username,
            my_nodes=self._decidable_nodes(case, user),
            may_record_trip=may_record_trip(case, user),
            open_statuses=OPEN_STATUSES,
            closed_statuses=CLOSED_STATUSES,
        )

    def _decidable_nodes(self, case: dict[str, Any], user: User) -> dict[str, str]:
        """node_id → task_id of this case's nodes the user decides, as the approval service
        rules (their department's as its approver, those delegated to them for today, never a
        node of their own case)."""
        if not user.is_staff:
            return {}
        try:
            tasks = ask(self.approval, "case_tasks", user.as_actor(), case["case_id"])
        except UNAVAILABLE:
            return {}
        return {task["node_id"]: task["task_id"] for task in tasks}

    def _history(self, case_id: str) -> list[dict[str, Any]] | None:
        try:
            return list(ask(self.audit, "case_history", case_id)["events"])
        except UNAVAILABLE as exc:
            log.info("case %s timeline without the audit ledger: %s", case_id, exc)
            return None

    # -- after applying ---------------------------------------------------------------------------

    @page("POST", "/cases/<case_id>/resubmit", uploads=MATERIAL_FILES)
    def page_resubmit(self, request: Request, case_id: str) -> Response:
        visit = self._visit(request)
        user = visit.require_user(APPLICANT)
        current = ask(self.approval, "get_case", user.as_actor(), case_id[:100])
        materials = current.get("item_materials") or []
        answers = form_answers(request, materials)
        body = Resubmission(
            form={**current.get("form", {}), **answers} if answers else None,
            materials=self._chosen_files(request, materials, user) or None,
        )
        cited = {**current.get("materials", {}), **(body.materials or {})}
        ask(
            self.approval,
            "resubmit_case",
            user.as_actor(),
            current["case_id"],
            body.model_dump(mode="json", exclude_none=True),
            self._own_files(user, cited),
        )
        return visit.redirect(f"/cases/{current['case_id']}?done=resubmitted")

    @page("POST", "/cases/<case_id>/withdraw")
    def page_withdraw(self, request: Request, case_id: str) -> Response:
        visit = self._visit(request)
        user = visit.require_user()
        case = ask(self.approval, "withdraw_case", user.as_actor(), case_id[:100])
        return visit.redirect(f"/cases/{case['case_id']}?done=withdrawn")

    @page("POST", "/cases/<case_id>/urge")
    def page_urge(self, request: Request, case_id: str) -> Response:
        visit = self._visit(request)
        user = visit.require_user()
        result = ask(self.approval, "urge_case", user.as_actor(), case_id[:100])
        return visit.redirect(f"/cases/{result['case_id']}?done=urged")

    @page("POST", "/cases/<case_id>/rating")
    def page_rate(self, request: Request, case_id: str) -> Response:
        visit = self._visit(request)
        user = visit.require_user()
        body = RatingRequest.model_validate_strings(
            {"score": request.form.get("score", ""), "comment": request.form.get("comment", "")}
        )
        case = ask(
            self.approval, "rate_case", user.as_actor(), case_id[:100], body.model_dump(mode="json")
        )
        return visit.redirect(f"/cases/{case['case_id']}?done=rated")

    @page("GET", "/notifications")
    def page_notifications(self, request: Request) -> Response:
        visit = self._visit(request)
        user = visit.require_user()
        try:
            notifications, unavailable = (
                ask(self.notify, "list_notifications", user.username),
                False,
            )
        except UNAVAILABLE as exc:
            log.info("notifications of %s unavailable: %s", user.username, exc)
            notifications, unavailable = [], True
        notifications.sort(key=lambda n: n.get("created_at") or "", reverse=True)
        return visit.render(
            "notifications.html", notifications=notifications, unavailable=unavailable
        )

