from __future__ import annotations

import base64
import logging
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, ValidationError

from services.audit.hall import AuditHall
from shared import metrics
from shared.contracts import IntegrationEvent
from shared.contracts.manifest import Manifest
from shared.dependencies import EventStore
from shared.errors import InvalidError
from shared.inputs import Admitted, WholeNumber
from shared.messaging import integration_event_handler, manifest_handler
from shared.rpc import rpc
from shared.service import HealthCheckMixin, every
from shared.sightings import Sighting, dead_letter_watch

log = logging.getLogger(__name__)

TREND_PERIODS_MAX = 53
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class Request(Admitted):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class CheckRequest(Request):
    actor: Annotated[str, Field(min_length=1, max_length=100)]
    item_id: Annotated[str, Field(min_length=1, max_length=100)]
    checker: Annotated[
        str, Field(min_length=1, max_length=100, description="体验人（教职工或学生）")
    ]
    trips: Annotated[int, Field(ge=0, le=50, description="实际跑动次数"), WholeNumber]
    minutes: Annotated[int, Field(ge=0, le=100_000, description="实际耗时（分钟）"), WholeNumber]
    findings: Annotated[str, Field(max_length=5_000)] = ""


class TrendRequest(Request):
    periods: Annotated[
        list[tuple[Annotated[str, Field(max_length=40)], Annotated[str, Field(max_length=40)]]],
        Field(min_length=1, max_length=TREND_PERIODS_MAX, description="[开始, 结束) 时间对"),
    ]


class RectifyRequest(Request):
    rating_id: Annotated[str, Field(min_length=1, max_length=200)]
    action: Literal["start", "complete", "request_invalid", "rule_invalid", "rule_valid"]
    actor: Annotated[str, Field(min_length=1, max_length=100)]
    actor_department: Annotated[str, Field(max_length=100)] = ""
    text: Annotated[str, Field(max_length=5_000)] = ""


def validated(model: type[Request], **arguments: Any) -> Any:
    try:
        return model.model_validate(arguments)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise InvalidError(problems) from None


class AuditService(HealthCheckMixin):
    name = "audit"

    store: AuditHall = EventStore(AuditHall)  # type: ignore[assignment]

    # One queue per publishing service (shared.topology): evt-<source>-all--audit.on_event.
    @integration_event_handler("catalogue", "*")
    @integration_event_handler("approval", "*")
    @integration_event_handler("notify", "*")
    @integration_event_handler("gateway", "*")
    def on_event(self, event: IntegrationEvent) -> None:
        self.store.consume(event)

    # What each relay says it published (mft-<source>--audit.on_manifest): what the ledger
    # must come to hold.
    @manifest_handler("catalogue")
    @manifest_handler("approval")
    @manifest_handler("notify")
    @manifest_handler("gateway")
    def on_manifest(self, manifest: Manifest) -> None:
        self.store.ledger.record_manifest(manifest)

    # Every consumer's dead letters and their replays (dlx--audit.on_dead_letter).
    @dead_letter_watch()
    def on_dead_letter(self, sighting: Sighting) -> None:
        self.store.ledger.record_sighting(sighting)

    @every(interval_of=lambda settings: settings.audit.checkpoint_seconds)
    def keep_watch(self) -> None:
        result = self.store.ledger.advance_checkpoint()
        metrics.LEDGER_INTACT.set(1 if result["ok"] else 0)
        metrics.LEDGER_MISSING.set(self.store.ledger.completeness()["missing_total"])
        if not result["ok"]:
            log.error(
                "audit ledger fails verification at seq %s: %s",
                result["first_bad_seq"],
                result.get("reason"),
            )
        self.store.ledger.prune_expected()
        self.store.rectifications.flag_overdue_rectifications()

    @rpc
    def verify(self) -> dict[str, Any]:
        result = self.store.ledger.verify()
        metrics.LEDGER_INTACT.set(1 if result["intact"] else 0)
        metrics.LEDGER_MISSING.set(result.get("missing_total", len(result["missing"])))
        return result

    @rpc
    def completeness(self) -> dict[str, Any]:
        """What verify says of completeness, without reading the whole chain."""
        return self.store.ledger.completeness()

    @rpc
    def case_history(self, case_id: str, as_of: str | None = None) -> dict[str, Any]:
        return self.store.ledger.case_history(case_id, as_of)

    @rpc
    def departments(self, from_: str | None = None, to: str | None = None) -> dict[str, Any]:
        return self.store.departments(from_, to)

    @rpc
    def measures(self, from_: str | None = None, to: str | None = None) -> dict[str, Any]:
        return self.store.measures(from_, to)

    @rpc
    def trend(self, periods: list[list[str]]) -> dict[str, Any]:
        """The school's measures for each [from, to) period, e.g. the last eight weeks."""
        request = validated(TrendRequest, periods=periods)
        return self.store.trend(request.periods)

    @rpc
    def report(self, from_: str | None = None, to: str | None = None) -> dict[str, Any]:
        content = self.store.report(from_, to)
        return {
            "filename": "report.xlsx",
            "content_type": XLSX,
            "content_base64": base64.b64encode(content).decode("ascii"),
        }

    @rpc
    def ratings(self, department: str | None = None) -> dict[str, Any]:
        return self.store.rectifications.ratings(department)

    @rpc
    def rectify(
        self, rating_id: str, action: str, actor: str, actor_department: str = "", text: str = ""
    ) -> dict[str, Any]:
        request = validated(RectifyRequest, rating_id=rating_id, action=action, actor=actor,
                            actor_department=actor_department, text=text)
        return self.store.rectifications.rectify(**request.model_dump())

    @rpc
    def record_check(
        self, actor: str, item_id: str, checker: str, trips: int, minutes: int, findings: str = ""
    ) -> dict[str, Any]:
        request = validated(CheckRequest, actor=actor, item_id=item_id, checker=checker,
                            trips=trips, minutes=minutes, findings=findings)
        return self.store.record_check(**request.model_dump())

    @rpc
    def checks(self, item_id: str | None = None) -> dict[str, Any]:
        return self.store.checks(item_id)

    @rpc
    def rebuild(self) -> dict[str, Any]:
        return {"folded": self.store.figures.catch_up(rebuild=True)}
