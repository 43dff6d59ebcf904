"""The supervisor's pages (纪委办公室): department figures, the ledger's verification, 好差评,
experience checks, a case replayed as of any moment, the report download.

Every figure comes from the audit service; when it does not answer, the page says so
plainly instead of failing.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import partial
from typing import Any, ClassVar
from urllib.parse import quote

import eventlet
from eventlet.greenthread import GreenThread
from nameko.exceptions import MethodNotFound, RemoteError
from werkzeug.wrappers import Request, Response

from services.gateway.auth import admitted
from services.gateway.case_routes import attachment
from services.gateway.http import REMOTE_ERRORS, ApiError
from services.gateway.models import CheckRequest, RectificationRequest
from services.gateway.web.core import SHANGHAI, Pages, page
from services.gateway.web.timeline import step_of
from shared.roles import SUPERVISOR

log = logging.getLogger(__name__)

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MOMENT_MAX = 40
TREND_WEEKS = 8
CHART_WIDTH, CHART_HEIGHT = 640, 220
PLOT_TOP, PLOT_BOTTOM, PLOT_LEFT, PLOT_RIGHT = 24, 180, 40, 600


def period(request: Request) -> tuple[str | None, str | None]:
    start = request.args.get("from", "").strip()[:MOMENT_MAX] or None
    end = request.args.get("to", "").strip()[:MOMENT_MAX] or None
    return start, end


def ranked(departments: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Best one-trip rate first; departments without closed cases last."""
    return sorted(
        departments,
        key=lambda d: (
            d.get("one_trip_rate") is None,
            -(d.get("one_trip_rate") or 0),
            -d.get("cases", 0),
        ),
    )


class Figures:
    """One audit call's answer, or why there is none."""

    def __init__(self, asked: Callable[..., Any], *args: Any) -> None:
        self.value: Any = None
        self.error = ""
        self.status = 200
        try:
            self.value = asked(*args)
        except RemoteError as exc:
            self._failed(asked, exc, REMOTE_ERRORS.get(exc.exc_type), str(exc.value))
        except ApiError as exc:
            self._failed(asked, exc, None, exc.detail)
        except MethodNotFound as exc:
            self._failed(asked, exc, None, f"没有 {exc} 接口")

    def _failed(
        self, asked: Callable[..., Any], exc: Exception, known: tuple[int, str] | None, detail: str
    ) -> None:
        if known is not None:
            self.error, self.status = detail, known[0]
            return
        log.info("audit %s unavailable: %s", getattr(asked, "__name__", asked), exc)
        self.error, self.status = f"审计服务暂不可用,请稍后再试({detail})", 503


def replay_step(
    history: Figures, at: Callable[[str], Figures], asked: tuple[str, GreenThread] | None, step: int
) -> Figures:
    """The case as of its ``step``-th moment: as the slider's script asked for it already, the
    whole history at the last moment, or asked for now."""
    moments = [event["at"] for event in history.value["events"]]
    if asked is not None and asked[0] == moments[step]:
        return asked[1].wait()  # type: ignore[no-any-return]
    if step == len(moments) - 1:
        return history
    return at(moments[step])


class SupervisorPages(Pages):
    @page("GET", "/supervision")
    def page_dashboard(self, request: Request) -> Response:
        visit = self._visit(request)
        user = admitted(visit.require_user(), self.oversight.departments)
        start, end = period(request)
        asked = {  # the audit service answers these side by side
            "departments": eventlet.spawn(Figures, self.oversight.departments, user, start, end),
            "measures": eventlet.spawn(Figures, self.oversight.measures, user, start, end),
            "completeness": eventlet.spawn(Figures, self.oversight.completeness, user),
        }
        weeks = trend_weeks(datetime.now(SHANGHAI).date())
        periods = [list(week_bounds(monday)) for monday in weeks]
        weekly = Figures(self.oversight.trend, user, periods)
        figures = {name: thread.wait() for name, thread in asked.items()}
        if figures["departments"].value is not None:
            figures["departments"].value = ranked(
                figures["departments"].value.get("departments", [])
            )
        return visit.render(
            "dashboard.html",
            start=start or "",
            end=end or "",
            report_query=report_query(start, end),
            trend=Trend.of(weeks, weekly),
            **figures,
        )

    @page("GET", "/supervision/ratings")
    def page_ratings(self, request: Request) -> Response:
        """The supervisor sees every department's bad reviews; other staff their own, as the
        JSON API answers them."""
        visit = self._visit(request)
        user = admitted(visit.require_user(), self.oversight.ratings)
        ratings = eventlet.spawn(Figures, self.oversight.ratings, user)
        checks = Figures(self.oversight.checks, user)
        return visit.render(
            "ratings.html",
            ratings=ratings.wait(),
            checks=checks,
            supervisor=SUPERVISOR in user.roles,
            done=request.args.get("done", "")[:20],
        )

    @page("POST", "/supervision/ratings/<rating_id>/rectification")
    def page_rectify(self, request: Request, rating_id: str) -> Response:
        return self._button(request, self.oversight.rectify, rating_id,
                            command=RectificationRequest,
                            then=lambda answer: "/supervision/ratings?done=rectified")

    @page("POST", "/supervision/checks")
    def page_record_check(self, request: Request) -> Response:
        return self._button(request, self.oversight.record_check, command=CheckRequest,
                            then=lambda answer: "/supervision/ratings?done=checked")

    @page("GET", "/supervision/verify")
    def page_verify(self, request: Request) -> Response:
        """The chain's verification, fetched by the dashboard after it shows: it reads the
        whole ledger, which grows with every event, so it never holds up the figures. The
        dashboard shows the missing events and the dead letters (cheap to ask) until then."""
        visit = self._visit(request)
        user = admitted(visit.require_user(), self.oversight.verify)
        fragment = request.headers.get("X-Fragment") == "1"
        template = "verification_fragment.html" if fragment else "verification.html"
        return visit.render(template, verification=Figures(self.oversight.verify, user))

    @page("GET", "/supervision/cases")
    def page_find_case(self, request: Request) -> Response:
        visit = self._visit(request)
        admitted(visit.require_user(), self.oversight.case_history)
        case_id = request.args.get("case_id", "").strip()[:100]
        return visit.redirect(f"/supervision/cases/{quote(case_id)}" if case_id else "/supervision")

    @page("GET", "/supervision/cases/<case_id>")
    def page_replay(self, request: Request, case_id: str) -> Response:
        visit = self._visit(request)
        user = admitted(visit.require_user(), self.oversight.case_history)
        at = partial(Figures, self.oversight.case_history, user, case_id[:100])
        wanted = request.args.get("as_of", "").strip()[:MOMENT_MAX] or None
        # The slider's script sends the moment itself, so both are asked for side by side.
        asked = (wanted, eventlet.spawn(at, wanted)) if wanted else None
        history = at()
        if history.value is None:
            return visit.render(
                "replay.html", case_id=case_id[:100], error=history.error, status=history.status
            )
        events = history.value["events"]
        step = chosen_step(request, [event["at"] for event in events], wanted)
        return visit.render(
            "replay.html",
            case_id=case_id[:100],
            **replay_view(history, replay_step(history, at, asked, step), step),
            names=self._display_names({e["actor"] for e in events if e.get("actor")}),
        )

    @page("GET", "/supervision/report.xlsx")
    def page_report(self, request: Request) -> Response:
        visit = self._visit(request)
        report = self.oversight.report(visit.require_user(), *period(request))
        return visit.finish(attachment(base64.b64decode(report["content_base64"]), XLSX, "监督报表.xlsx"))


def chosen_step(request: Request, moments: list[str], wanted: str | None) -> int:
    """The moment the slider asked for (``as_of``), or its position (``step``), or the last."""
    if wanted in moments:
        return moments.index(wanted)
    raw = request.args.get("step", "")
    if raw.isdigit():
        return min(int(raw), len(moments) - 1)
    return len(moments) - 1


def replay_view(history: Figures, as_of: Figures, step: int) -> dict[str, Any]:
    events = history.value["events"]
    return {
        "error": as_of.error,
        "moments": [event["at"] for event in events],
        "step": step,
        "replay": as_of.value,
        "steps": [step_of(e) for e in (as_of.value or {}).get("events", [])],
        "all_steps": [step_of(e) for e in events],
    }


def report_query(start: str | None, end: str | None) -> str:
    parts = [f"{key}={quote(value)}" for key, value in (("from", start), ("to", end)) if value]
    return ("?" + "&".join(parts)) if parts else ""


def trend_weeks(today: date, count: int = TREND_WEEKS) -> list[date]:
    """The Mondays of the last `count` weeks, this week last."""
    this_monday = today - timedelta(days=today.weekday())
    return [this_monday - timedelta(weeks=back) for back in range(count - 1, -1, -1)]


def week_bounds(monday: date) -> tuple[str, str]:
    start = datetime.combine(monday, time(), SHANGHAI)
    return start.isoformat(), (start + timedelta(weeks=1)).isoformat()


@dataclass(frozen=True)
class Week:
    monday: date
    cases: int
    closed: int
    one_trip_rate: float | None
    bar_x: float = 0
    bar_y: float = 0
    bar_height: float = 0
    bar_width: float = 0
    dot_y: float | None = None

    @property
    def label(self) -> str:
        return self.monday.strftime("%m-%d")

    @property
    def center(self) -> float:
        return self.bar_x + self.bar_width / 2


@dataclass(frozen=True)
class Trend:
    """Cases per week and the one-trip rate, placed on a small SVG chart."""

    weeks: list[Week]
    error: str = ""

    @classmethod
    def of(cls, mondays: list[date], answer: Figures) -> Trend:
        if answer.value is None:
            return cls(weeks=[], error=answer.error)
        periods = answer.value.get("periods", [])
        if len(periods) != len(mondays):
            return cls(weeks=[], error="审计服务返回的周数与所问不符")
        weeks = [
            Week(
                monday,
                int(figures.get("cases", 0)),
                int(figures.get("closed", 0)),
                figures.get("one_trip_rate"),
            )
            for monday, figures in zip(mondays, periods, strict=True)
        ]
        return cls(weeks=placed(weeks))

    # where the chart is drawn, for the template
    width: ClassVar[int] = CHART_WIDTH
    height: ClassVar[int] = CHART_HEIGHT
    baseline: ClassVar[int] = PLOT_BOTTOM
    top: ClassVar[int] = PLOT_TOP
    left: ClassVar[int] = PLOT_LEFT
    right: ClassVar[int] = PLOT_RIGHT

    @property
    def most_cases(self) -> int:
        return max((week.cases for week in self.weeks), default=0)

    @property
    def line(self) -> str:
        return " ".join(
            f"{week.center:.1f},{week.dot_y:.1f}" for week in self.weeks if week.dot_y is not None
        )

    @property
    def summary(self) -> str:
        parts = [
            f"{week.label} 周办件 {week.cases} 件,最多跑一趟 "
            + ("—" if week.one_trip_rate is None else f"{week.one_trip_rate * 100:.0f}%")
            for week in self.weeks
        ]
        return f"近 {len(self.weeks)} 周办件趋势:" + ";".join(parts)


def placed(weeks: list[Week]) -> list[Week]:
    slot = (PLOT_RIGHT - PLOT_LEFT) / max(len(weeks), 1)
    width = slot * 0.6
    scale = (PLOT_BOTTOM - PLOT_TOP) / max(max((w.cases for w in weeks), default=0), 1)
    span = PLOT_BOTTOM - PLOT_TOP
    result = []
    for index, week in enumerate(weeks):
        height = week.cases * scale
        rate = week.one_trip_rate
        result.append(
            Week(
                week.monday,
                week.cases,
                week.closed,
                rate,
                bar_x=PLOT_LEFT + index * slot + (slot - width) / 2,
                bar_y=PLOT_BOTTOM - height,
                bar_height=height,
                bar_width=width,
                dot_y=None if rate is None else PLOT_BOTTOM - rate * span,
            )
        )
    return result
