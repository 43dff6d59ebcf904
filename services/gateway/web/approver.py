"""The approver's pages: the department's inbox, deciding a node, delegating."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from nameko.exceptions import RemoteError
from pydantic import ValidationError
from werkzeug.wrappers import Request, Response

from services.gateway.auth import User
from services.gateway.http import validation_errors
from services.gateway.web import labels
from services.gateway.web.core import Pages, Visit, page
from shared.contracts.approval import DecisionRequest, DelegationRequest
from shared.errors import ForbiddenError
from shared.roles import APPROVER, may_delegate

DELEGATION_FIELDS = ("delegate", "starts_on", "ends_on")


def is_overdue(task: dict[str, Any], now: datetime) -> bool:
    due = task.get("due_at")
    return bool(due) and datetime.fromisoformat(due) < now


def inbox_order(tasks: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """Overdue first, then the oldest first. Overdue: flagged so by the approval service's
    check (a recorded fact), or past its due time already before the next check runs."""
    marked = [
        {**task, "overdue": bool(task.get("overdue")) or is_overdue(task, now)} for task in tasks
    ]
    return sorted(marked, key=lambda task: (not task["overdue"], task["created_at"]))


def delegator(visit: Visit) -> User:
    """The signed-in user, when they may delegate as the approval service rules."""
    user = visit.require_user()
    if not may_delegate(user.roles):
        raise ForbiddenError("只有审批人可以委托")
    return user


class ApproverPages(Pages):
    @page("GET", "/inbox")
    def page_inbox(self, request: Request) -> Response:
        visit = self._visit(request)
        tasks = inbox_order(self.cases.tasks(visit.require_user()), datetime.now(UTC))
        visit.nav["tasks"] = len(tasks)
        overdue = sum(task["overdue"] for task in tasks)
        names = self._display_names({task["applicant"] for task in tasks})
        return visit.render("inbox.html", tasks=tasks, overdue=overdue, names=names)

    @page("POST", "/tasks/<task_id>/decision")
    def page_decide(self, request: Request, task_id: str) -> Response:
        return self._button(request, self.cases.decide, task_id, command=DecisionRequest,
                            then=lambda case: f"/cases/{case['case_id']}?done=decided")

    @page("GET", "/delegations")
    def page_delegations(self, request: Request) -> Response:
        visit = self._visit(request)
        return self._delegations_form(visit, delegator(visit), done=request.args.get("done"))

    @page("POST", "/delegations")
    def page_delegate(self, request: Request) -> Response:
        visit = self._visit(request)
        user = delegator(visit)
        entered = {key: request.form.get(key, "")[:100] for key in DELEGATION_FIELDS}
        try:
            self.cases.delegate(user, DelegationRequest.model_validate(entered))
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
        visit: Visit,
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
            delegations=self.cases.delegations(user),
            colleagues=colleagues,
            names=self._display_names(set(colleagues)),
            entered=entered or {},
            errors=errors or [],
            done=done,
        )
