"""The approver's pages: the department's inbox, deciding a node, delegating."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from nameko.exceptions import RemoteError
from pydantic import ValidationError
from werkzeug.wrappers import Request, Response

from services.gateway.auth import APPROVER, User
from services.gateway.backends import ask
from services.gateway.http import validation_errors
from services.gateway.identity import Identity
from services.gateway.web import labels
from services.gateway.web.core import page
from shared.contracts.approval import DecisionRequest, DelegationRequest, TripRequest

DELEGATION_FIELDS = ("delegate", "starts_on", "ends_on")


def is_overdue(task: dict[str, Any], now: datetime) -> bool:
    due = task.get("due_at")
    return bool(due) and datetime.fromisoformat(due) < now


def case_departments(case: dict[str, Any]) -> set[str]:
    nodes = {node["department"] for stage in case.get("stages") or [] for node in stage["nodes"]}
    return nodes | ({case["department"]} if case.get("department") else set())


def may_record_trip(case: dict[str, Any], user: User) -> bool:
    """Staff of a department the case goes through register a trip the applicant made."""
    return APPROVER in user.roles and user.department in case_departments(case)


def inbox_order(tasks: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """Overdue first, then the oldest first. Overdue: flagged so by the approval service's
    check (a recorded fact), or past its due time already before the next check runs."""
    marked = [
        {**task, "overdue": bool(task.get("overdue")) or is_overdue(task, now)} for task in tasks
    ]
    return sorted(marked, key=lambda task: (not task["overdue"], task["created_at"]))


class ApproverPages:
    approval: Any
    identity: Identity
    _visit: Any
    _display_names: Any

    @page("GET", "/inbox")
    def page_inbox(self, request: Request) -> Response:
        visit = self._visit(request)
        user = visit.require_user()
        tasks = inbox_order(ask(self.approval, "list_tasks", user.as_actor()), datetime.now(UTC))
        visit.nav["tasks"] = len(tasks)
        overdue = sum(task["overdue"] for task in tasks)
        names = self._display_names({task["applicant"] for task in tasks})
        return visit.render("inbox.html", tasks=tasks, overdue=overdue, names=names)

    @page("POST", "/tasks/<task_id>/decision")
    def page_decide(self, request: Request, task_id: str) -> Response:
        visit = self._visit(request)
        user = visit.require_user()
        body = DecisionRequest.model_validate(
            {
                "decision": request.form.get("decision", ""),
                "comment": request.form.get("comment", ""),
            }
        )
        case = ask(
            self.approval,
            "decide_task",
            user.as_actor(),
            task_id[:200],
            body.model_dump(mode="json"),
        )
        return visit.redirect(f"/cases/{case['case_id']}?done=decided")

    @page("POST", "/cases/<case_id>/trips")
    def page_record_trip(self, request: Request, case_id: str) -> Response:
        visit = self._visit(request)
        user = visit.require_user(APPROVER)
        body = TripRequest.model_validate({"purpose": request.form.get("purpose", "")})
        case = ask(
            self.approval,
            "record_trip",
            user.as_actor(),
            case_id[:100],
            body.model_dump(mode="json"),
        )
        return visit.redirect(f"/cases/{case['case_id']}?done=trip")

    @page("GET", "/delegations")
    def page_delegations(self, request: Request) -> Response:
        visit = self._visit(request)
        user = visit.require_user(APPROVER)
        return self._delegations_form(visit, user, done=request.args.get("done"))

    @page("POST", "/delegations")
    def page_delegate(self, request: Request) -> Response:
        visit = self._visit(request)
        user = visit.require_user(APPROVER)
        entered = {key: request.form.get(key, "")[:100] for key in DELEGATION_FIELDS}
        try:
            body = DelegationRequest.model_validate(entered)
            ask(self.approval, "delegate", user.as_actor(), body.model_dump(mode="json"))
        except ValidationError as exc:
            errors = [labels.validation_message(error) for error in validation_errors(exc)]
            return self._delegations_form(visit, user, entered=entered, errors=errors)
        except RemoteError as exc:
            if exc.exc_type != "InvalidError":
                raise
            return self._delegations_form(visit, user, entered=entered, errors=[str(exc.value)])
        return visit.redirect("/delegations?done=1")

    def _delegations_form(
        self,
        visit: Any,
        user: User,
        done: str | None = None,
        entered: dict[str, str] | None = None,
        errors: list[str] | None = None,
    ) -> Response:
        """The form (refused input kept, with the reason) and the delegations the user holds;
        the department's other approvers offered as whom one may delegate to."""
        colleagues = sorted(
            set(self.identity.accounts.department_members(user.department, APPROVER)) - {user.username}
        )
        return visit.render(
            "delegations.html",
            status=422 if errors else 200,
            delegations=ask(self.approval, "delegations", user.as_actor()),
            colleagues=colleagues,
            names=self._display_names(set(colleagues)),
            entered=entered or {},
            errors=errors or [],
            done=done,
        )
