"""The audit service's applications, joined the way the eventsourcing library's ``System``
joins them: the ledger leads; the rectifications and the supervision figures follow it.

``AuditHall`` is the runner for one process: it constructs each application of ``AUDIT`` on
the audit schema, has each follower follow its leader's notification log (the ledger), and
prompts a follower after an append whose type it follows. Figures that need two of the
applications (a department's open rectifications, an item's experience checks) are asked of
both here.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, TypeVar

from eventsourcing.application import Application
from eventsourcing.system import Follower, Runner, System

from services.audit import supervision
from services.audit.application import AuditLedger
from services.audit.figures import SupervisionFigures, period_bounds
from services.audit.ratings import Check, Rectifications
from services.audit.replay import parse_moment
from services.audit.report import report_workbook
from services.audit.supervision import Facts
from shared.config import Settings
from shared.contracts import IntegrationEvent
from shared.contracts.case_events import is_bad_review
from shared.errors import NotFoundError

AUDIT = System(pipes=[[AuditLedger, Rectifications], [AuditLedger, SupervisionFigures]])
# A follower's own pool stays small: every process of the hall shares max_connections.
FOLLOWER_POOLS = {"RATINGS_POSTGRES_POOL_SIZE": "1", "SUPERVISION_POSTGRES_POOL_SIZE": "1"}

A = TypeVar("A", bound=Application[Any])


class AuditHall(Runner[Any]):
    service = "audit"

    def __init__(
        self,
        system: System = AUDIT,
        env: dict[str, str] | None = None,
        settings: Settings | None = None,
    ) -> None:
        super().__init__(system, {**FOLLOWER_POOLS, **(env or {})})
        self.settings = settings or Settings()
        self.apps: dict[str, Application[Any]] = {}
        self.start()
        self.ledger = self.get(AuditLedger)
        self.rectifications = self.get(Rectifications)
        self.figures = self.get(SupervisionFigures)

    def start(self) -> None:
        super().start()
        for name in self.system.nodes:
            app_class: Any = self.system.get_app_cls(name)
            self.apps[name] = app_class(env=self.env, settings=self.settings)
        for leader, follower in self.system.edges:
            self._follower(follower).follow(leader, self.apps[leader].notification_log)

    @classmethod
    def composed(cls, env: dict[str, str], settings: Settings) -> AuditHall:
        return cls(env=env, settings=settings)

    def stop(self) -> None:
        for app in self.apps.values():
            app.close()
        self.apps.clear()

    def close(self) -> None:
        self.stop()

    def get(self, cls: type[A]) -> A:
        app = self.apps[cls.name]
        assert isinstance(app, cls)
        return app

    @property
    def outbox(self) -> Rectifications:
        """The application whose notification log the relay publishes."""
        return self.rectifications

    def _follower(self, name: str) -> Follower[Any]:
        follower = self.apps[name]
        assert isinstance(follower, Follower)
        return follower

    # -- the ledger's door ---------------------------------------------------------------------

    def consume(self, event: IntegrationEvent) -> bool:
        appended = self.ledger.consume(event)
        for name in self.system.leads[self.ledger.name]:
            follower = self._follower(name)
            if event.type in follower.topics:
                follower.pull_and_process(self.ledger.name)
        return appended

    # -- figures from two applications -------------------------------------------------------------

    def departments(self, from_: str | None, to: str | None) -> dict[str, Any]:
        cases = self.figures.cases(from_, to)
        return {"departments": supervision.department_figures(cases, self._open(cases))}

    def measures(self, from_: str | None, to: str | None) -> dict[str, Any]:
        cases = self.figures.cases(from_, to)
        open_total = sum(self._open(cases).values())
        return supervision.school_measures(cases, self.figures.items(), open_total)

    def trend(self, periods: list[tuple[str, str]]) -> dict[str, Any]:
        """The school's measures for each of several periods (the dashboard's weekly chart),
        from one catch-up and one query over their whole span."""
        bounds = [period_bounds(start, end) for start, end in periods]
        if not bounds:
            return {"periods": []}
        items = self.figures.items()
        cases = self.figures.cases_between(min(b[0] for b in bounds), max(b[1] for b in bounds))
        submitted = [(parse_moment(facts["submitted_at"]), facts) for facts in cases]
        figures = []
        for (start, end), (raw_start, raw_end) in zip(bounds, periods, strict=True):
            chosen = [facts for moment, facts in submitted if start <= moment < end]
            open_total = sum(self._open(chosen).values())
            measures = supervision.school_measures(chosen, items, open_total)
            figures.append({"from": raw_start, "to": raw_end, **measures})
        return {"periods": figures}

    def report(self, from_: str | None, to: str | None) -> bytes:
        cases = self.figures.cases(from_, to)
        departments = supervision.department_figures(cases, self._open(cases))
        measures = self.measures(from_, to)
        exceptions = [facts for facts in cases if facts["trips"] > 1]
        return report_workbook(from_, to, departments, measures, exceptions)

    def record_check(
        self,
        actor: str,
        item_id: str,
        checker: str,
        trips: int,
        minutes: int,
        findings: str,
        now: datetime | None = None,
    ) -> dict[str, Any]:
        items = {item.get("item_id"): item for item in self.figures.items()}
        if item_id not in items:
            raise NotFoundError(f"事项不存在：{item_id}")
        at = (now or datetime.now(UTC)).isoformat()
        check = Check(checker, trips, minutes, findings, actor, at)
        return self.rectifications.record_check(items[item_id], check)

    def checks(self, item_id: str | None = None) -> dict[str, Any]:
        items = [
            item
            for item in self.figures.items()
            if item.get("item_id") and (item_id is None or item["item_id"] == item_id)
        ]
        return self.rectifications.checks(items)

    def _open(self, cases: Iterable[Facts]) -> Any:
        badly_rated = (
            facts["case_id"]
            for facts in cases
            if facts["score"] is not None and is_bad_review(facts["score"])
        )
        return self.rectifications.open_by_department(badly_rated)
