"""Each action on notifications, the audit ledger and supervision, written once. The JSON
routes and the supervisor's pages call these and only shape the answer."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.gateway.auth import User, needs, require_roles
from services.gateway.backends import Service, ask
from services.gateway.models import CheckRequest, RectificationRequest
from shared.roles import SUPERVISOR

Figures = dict[str, Any]
CASE_ID_MAX, RATING_ID_MAX = 100, 200


@dataclass(frozen=True)
class OversightActions:
    audit: Service
    notify: Service

    def _ask(self, method: str, *args: Any) -> Any:
        return ask(self.audit, method, *args)

    # -- notifications ----------------------------------------------------------------------

    def notifications(self, user: User) -> list[dict[str, Any]]:
        return list(ask(self.notify, "list_notifications", user.username))

    @needs(SUPERVISOR)
    def failed_notifications(self, user: User) -> list[dict[str, Any]]:
        return list(ask(self.notify, "failed_notifications"))

    # -- the ledger -------------------------------------------------------------------------

    def ledger_events(self, case_id: str) -> list[dict[str, Any]]:
        """A case's events in the ledger, for the case page of someone the approval service has
        already shown the case to."""
        return list(self._ask("case_history", case_id[:CASE_ID_MAX])["events"])

    @needs(SUPERVISOR)
    def case_history(self, user: User, case_id: str, as_of: str | None = None) -> Figures:
        return self._ask("case_history", case_id[:CASE_ID_MAX], as_of)

    @needs(SUPERVISOR)
    def verify(self, user: User) -> Figures:
        return self._ask("verify")

    @needs(SUPERVISOR)
    def completeness(self, user: User) -> Figures:
        return self._ask("completeness")

    # -- the figures --------------------------------------------------------------------------

    @needs(SUPERVISOR)
    def departments(self, user: User, start: str | None, end: str | None) -> Figures:
        return self._ask("departments", start, end)

    @needs(SUPERVISOR)
    def measures(self, user: User, start: str | None, end: str | None) -> Figures:
        return self._ask("measures", start, end)

    @needs(SUPERVISOR)
    def trend(self, user: User, periods: list[list[str]]) -> Figures:
        return self._ask("trend", periods)

    @needs(SUPERVISOR)
    def report(self, user: User, start: str | None, end: str | None) -> Figures:
        return self._ask("report", start, end)

    # -- 好差评, rectification and experience checks ------------------------------------------

    @needs(staff=True)
    def ratings(self, user: User, department: str | None = None) -> Figures:
        """The supervisor sees every department's bad reviews (or the one asked for); other
        staff their own department's."""
        if SUPERVISOR not in user.roles:
            department = user.department
        return self._ask("ratings", department)

    @needs(staff=True)
    def rectify(self, user: User, rating_id: str, command: RectificationRequest) -> Figures:
        """The department responsible starts, completes or contests; the supervisor rules."""
        if command.action.startswith("rule_"):
            require_roles(user, SUPERVISOR)
        return self._ask(
            "rectify", rating_id[:RATING_ID_MAX], command.action, user.username,
            user.department, command.text,
        )

    @needs(SUPERVISOR)
    def record_check(self, user: User, command: CheckRequest) -> Figures:
        return self._ask(
            "record_check", user.username, command.item_id, command.checker, command.trips,
            command.minutes, command.findings,
        )

    @needs(staff=True)
    def checks(self, user: User, item_id: str | None = None) -> Figures:
        return self._ask("checks", item_id)
