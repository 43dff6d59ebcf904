"""The applicant's pages: apply, my cases, resubmit, withdraw, urge, rate, my notifications;
and the case page every party to a case shares (timeline, materials, decisions)."""

from __future__ import annotations

import logging
import math
from typing import Any

import eventlet
from nameko.exceptions import MethodNotFound, RemoteError
from werkzeug.wrappers import Request, Response

from services.gateway.auth import User, admitted
from services.gateway.case_routes import attachment, uploaded_file
from services.gateway.http import ApiError, json_response
from services.gateway.web.core import CSRF_HEADER, Pages, json_endpoint, page
from services.gateway.web.timeline import timeline_of
from shared.contracts.approval import CaseSubmission, RatingRequest, Resubmission, TripRequest
from shared.contracts.case_events import CLOSED_STATUSES, OPEN_STATUSES
from shared.errors import ForbiddenError
from shared.roles import may_record_trip

log = logging.getLogger(__name__)
CASES_PER_PAGE = 20
MATERIAL_FILES = 10  # files one apply form may carry when the page's script is not running

UNAVAILABLE = (ApiError, RemoteError, MethodNotFound)
# a case page's buttons: /cases/<case_id>/<step> → the action, its form, what the page says after
CASE_STEPS: dict[str, tuple[str, type[Any] | None, str]] = {
    "withdraw": ("withdraw", None, "withdrawn"),
    "urge": ("urge", None, "urged"),
    "rating": ("rate", RatingRequest, "rated"),
    "trips": ("record_trip", TripRequest, "trip"),
}


def form_answers(request: Request, materials: list[dict[str, Any]]) -> dict[str, str]:
    answers = {}
    for index, material in enumerate(materials):
        text = request.form.get(f"form-{index}", "").strip()
        if material["kind"] == "form" and text:
            answers[material["name"]] = text[:5000]
    return answers


class ApplicantPages(Pages):
    # -- apply ------------------------------------------------------------------------------

    @page("GET", "/items/<item_id>/apply")
    def page_apply(self, request: Request, item_id: str) -> Response:
        visit = self._visit(request)
        admitted(visit.require_user(), self.cases.submit)
        item = self.items.item(None, item_id)
        return visit.render("apply.html", item=item, form={}, materials={}, uploaded={})

    @page("POST", "/items/<item_id>/apply", uploads=MATERIAL_FILES)
    def page_apply_post(self, request: Request, item_id: str) -> Response:
        visit = self._visit(request)
        user = admitted(visit.require_user(), self.cases.submit)
        item = self.items.item(None, item_id)
        body = CaseSubmission(
            item_id=item["item_id"],
            form=form_answers(request, item["materials"]),
            materials=self._chosen_files(request, item["materials"], user),
        )
        case = self.cases.submit(user, body)
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
                file_id = self.cases.upload(user, upload).file_id
            if file_id:
                chosen[material["name"]] = file_id
        return chosen

    @json_endpoint("POST", "/files", uploads=1)
    def page_upload(self, request: Request) -> Response:
        """The apply form's script uploads here, with its CSRF header: the API's own upload."""
        if not request.headers.get(CSRF_HEADER):
            raise ForbiddenError("缺少校验码(CSRF)")
        visit = self._visit(request)
        stored = self.cases.upload(visit.require_user(), uploaded_file(request))
        return visit.finish(json_response(stored.public(), status=201))

    @page("GET", "/files/<file_id>")
    def page_download(self, request: Request, file_id: str) -> Response:
        visit = self._visit(request)
        stored, content = self.cases.download(visit.require_user(), file_id)
        return visit.finish(attachment(content, stored.content_type, stored.name))

    # -- my cases -------------------------------------------------------------------------------

    @page("GET", "/cases")
    def page_cases(self, request: Request) -> Response:
        visit = self._visit(request)
        user = visit.require_user()
        raw = request.args.get("page", "1")
        number = int(raw) if raw.isdigit() and 0 < len(raw) < 7 and int(raw) > 0 else 1
        listed = self.cases.cases(user, CASES_PER_PAGE, (number - 1) * CASES_PER_PAGE)
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
            case = self.cases.case(user, case_id)
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
            may_record_trip=may_record_trip(user.roles, user.department, case),
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
            tasks = self.cases.case_tasks(user, case["case_id"])
        except UNAVAILABLE:
            return {}
        return {task["node_id"]: task["task_id"] for task in tasks}

    def _history(self, case_id: str) -> list[dict[str, Any]] | None:
        try:
            return self.oversight.ledger_events(case_id)
        except UNAVAILABLE as exc:
            log.info("case %s timeline without the audit ledger: %s", case_id, exc)
            return None

    # -- after applying ---------------------------------------------------------------------------

    @page("POST", "/cases/<case_id>/resubmit", uploads=MATERIAL_FILES)
    def page_resubmit(self, request: Request, case_id: str) -> Response:
        visit = self._visit(request)
        user = visit.require_user()
        current = self.cases.case(user, case_id)
        materials = current.get("item_materials") or []
        answers = form_answers(request, materials)
        body = Resubmission(
            form={**current.get("form", {}), **answers} if answers else None,
            materials=self._chosen_files(request, materials, user) or None,
        )
        case = self.cases.resubmit(user, current["case_id"], body, current=current)
        return visit.redirect(f"/cases/{case['case_id']}?done=resubmitted")

    @page("POST", "/cases/<case_id>/<any(withdraw, urge, rating, trips):step>")
    def page_case_step(self, request: Request, case_id: str, step: str) -> Response:
        act, command, done = CASE_STEPS[step]
        return self._button(request, getattr(self.cases, act), case_id, command=command,
                            then=lambda answer: f"/cases/{answer['case_id']}?done={done}")

    @page("GET", "/notifications")
    def page_notifications(self, request: Request) -> Response:
        visit = self._visit(request)
        user = visit.require_user()
        try:
            notifications, unavailable = self.oversight.notifications(user), False
        except UNAVAILABLE as exc:
            log.info("notifications of %s unavailable: %s", user.username, exc)
            notifications, unavailable = [], True
        notifications.sort(key=lambda n: n.get("created_at") or "", reverse=True)
        return visit.render(
            "notifications.html", notifications=notifications, unavailable=unavailable
        )

