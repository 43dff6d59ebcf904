"""Supervision figures from the ledger equal figures computed from the raw events; 好差评
rectifications run their course; experience checks sit beside the promised trips."""

from __future__ import annotations

import io
import random
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from services.audit.domain import Rectification
from services.audit.hall import AuditHall
from shared.contracts import IntegrationEvent
from shared.errors import ConflictError, ForbiddenError, InvalidError, NotFoundError
from shared.workdays import SHANGHAI
from tests.unit.audit.support import START, audit_application, generated_history, item_published

pytestmark = pytest.mark.integration

FROM, TO = START + timedelta(days=20), START + timedelta(days=50)


@pytest.fixture
def audit(database_url: str, tmp_path: Path) -> Iterator[AuditHall]:
    with audit_application(database_url, tmp_path / "audit-checkpoint.json") as app:
        yield app


def delivered_out_of_order(events: list[IntegrationEvent], seed: int = 3) -> list[IntegrationEvent]:
    """Interleave the cases by time, then let the bus swap neighbours now and then."""
    shuffled = sorted(events, key=lambda event: event.occurred_at)
    rng = random.Random(seed)
    for index in range(len(shuffled) - 1):
        if rng.random() < 0.1:
            shuffled[index], shuffled[index + 1] = shuffled[index + 1], shuffled[index]
    return shuffled


# -- the independent computation, straight from the raw events --------------------------------


def expected_departments(
    events: list[IntegrationEvent], start: datetime, end: datetime
) -> dict[str, dict[str, Any]]:
    by_case: dict[str, list[IntegrationEvent]] = defaultdict(list)
    for event in events:
        by_case[event.data["case_id"]].append(event)
    rows: dict[str, dict[str, Any]] = defaultdict(lambda: defaultdict(list))
    for case_events in by_case.values():
        case_events.sort(key=lambda event: event.aggregate_version)
        submitted = case_events[0]
        if not start <= datetime.fromisoformat(submitted.data["submitted_at"]) < end:
            continue
        lead = submitted.data["department"]
        statuses = [
            e
            for e in case_events
            if e.type
            in (
                "case_approved",
                "case_rejected",
                "case_withdrawn",
                "case_returned",
                "case_resubmitted",
            )
        ]
        final = statuses[-1].type if statuses else "case_submitted"
        trips = sum(e.type == "trip_recorded" for e in case_events)
        scores = [e.data["score"] for e in case_events if e.type == "case_rated"]
        row = rows[lead]
        row["cases"].append(1)
        row["trips"].append(trips)
        if final in ("case_approved", "case_rejected"):
            hours = (
                datetime.fromisoformat(statuses[-1].data["closed_at"])
                - datetime.fromisoformat(submitted.data["submitted_at"])
            ).total_seconds() / 3600
            row["closed_hours"].append(hours)
            row["closed_trips"].append(trips)
            row["approved"].append(final == "case_approved")
        row["scores"].extend(scores)
        for e in case_events:
            if e.type == "node_decided" and e.data["decision"] == "return":
                rows[e.data["department"]]["returns"].append(1)
            if e.type == "node_overdue":
                rows[e.data["department"]]["overdue"].append(1)
    return {department: _figures(department, row) for department, row in rows.items()}


def _figures(department: str, row: dict[str, list[Any]]) -> dict[str, Any]:
    cases, closed, scores = len(row["cases"]), len(row["closed_hours"]), row["scores"]
    return {
        "department": department,
        "cases": cases,
        "closed": closed,
        "approved": sum(row["approved"]),
        "returns": len(row["returns"]),
        "overdue": len(row["overdue"]),
        "median_hours": statistics.median(row["closed_hours"]) if closed else None,
        "trips_per_case": sum(row["trips"]) / cases if cases else None,
        "one_trip_rate": sum(t <= 1 for t in row["closed_trips"]) / closed if closed else None,
        "rating_avg": sum(scores) / len(scores) if scores else None,
        "bad_reviews": sum(score <= 2 for score in scores),
        "open_rectifications": sum(score <= 2 for score in scores),  # none handled yet
    }


def approx(figures: dict[str, Any]) -> dict[str, Any]:
    return {
        key: pytest.approx(value, abs=1e-4) if isinstance(value, float) else value
        for key, value in figures.items()
    }


# -- the stories -------------------------------------------------------------------------------


def test_figures_for_500_cases_equal_the_raw_events_and_a_rebuild_gives_the_same(
    audit: AuditHall,
) -> None:
    # Given a generated term of 500 cases, delivered interleaved and partly out of order
    events = generated_history(500)
    for event in delivered_out_of_order(events):
        audit.consume(event)

    # When the work group asks for the departments' figures for a period
    live = audit.departments(FROM.isoformat(), TO.isoformat())["departments"]

    # Then they equal what the raw events say, department by department
    expected = expected_departments(events, FROM, TO)
    assert [row["department"] for row in live] == sorted(expected)
    for row in live:
        assert row == approx(expected[row["department"]])
    assert sum(row["cases"] for row in live) > 50

    # And rebuilding the read models from the ledger gives exactly the same figures
    assert audit.figures.catch_up(rebuild=True) == len(events)
    assert audit.departments(FROM.isoformat(), TO.isoformat())["departments"] == live

    # And the school-wide measures agree with the same cohort
    measures = audit.measures(FROM.isoformat(), TO.isoformat())
    assert measures["cases"] == sum(row["cases"] for row in live)
    assert measures["closed"] == sum(row["closed"] for row in live)
    assert measures["bad_reviews"] == sum(row["bad_reviews"] for row in live)

    # And the weekly trend (the dashboard's chart) counts each week's cohort as the raw
    # events do, and says for each week what the period measures say for it alone
    weeks = [(FROM + timedelta(weeks=n), FROM + timedelta(weeks=n + 1)) for n in range(4)]
    trend = audit.trend([(start.isoformat(), end.isoformat()) for start, end in weeks])
    assert len(trend["periods"]) == len(weeks)
    for (start, end), figures in zip(weeks, trend["periods"], strict=True):
        cohort = expected_departments(events, start, end).values()
        closed = sum(row["closed"] for row in cohort)
        one_trip = sum(round((row["one_trip_rate"] or 0) * row["closed"]) for row in cohort)
        assert figures["cases"] == sum(row["cases"] for row in cohort) > 0
        assert figures["closed"] == closed
        assert figures["one_trip_rate"] == pytest.approx(one_trip / closed, abs=1e-4)
        assert figures == {
            "from": start.isoformat(),
            "to": end.isoformat(),
            **audit.measures(start.isoformat(), end.isoformat()),
        }


def test_a_trend_refuses_periods_that_end_before_they_start_or_are_not_moments(
    audit: AuditHall,
) -> None:
    with pytest.raises(InvalidError, match="结束时间必须晚于开始时间"):
        audit.trend([(TO.isoformat(), FROM.isoformat())])
    with pytest.raises(InvalidError, match="不是有效的时间"):
        audit.trend([("上周一", TO.isoformat())])
    assert audit.trend([]) == {"periods": []}


def rated(
    case_id: str, score: int, at: datetime, version: int = 20, notification_id: int = 1
) -> IntegrationEvent:
    return IntegrationEvent.build(
        type="case_rated",
        service="approval",
        aggregate_id=f"uuid-{case_id}",
        aggregate_version=version,
        notification_id=notification_id,
        occurred_at=at,
        actor="teacher1",
        data={
            "case_id": case_id,
            "item_id": "gongfang-zhuangxiu",
            "item_name": "公房装修改造申请",
            "applicant": "teacher1",
            "lead_department": "gzc",
            "departments": ["gzc"],
            "at": at.isoformat(),
            "score": score,
            "comment": "审批太慢，跑了两趟",
            "bad_review": score <= 2,
        },
    )


def test_a_bad_review_opens_a_rectification_that_gzc_answers(audit: AuditHall) -> None:
    # Given 李老师 rates her renovation case 2 on Friday 2026-09-25, before 国庆
    friday = datetime(2026, 9, 25, 15, 0, tzinfo=SHANGHAI)
    audit.consume(rated("case-li", 2, friday))
    audit.consume(rated("case-wang", 5, friday, notification_id=2))

    # Then one rectification awaits 国资处, due five working days later (国庆 skipped: 9-28, 9-29, 9-30, 10-8, 10-9)
    [rating] = audit.rectifications.ratings()["ratings"]
    assert (
        rating["rating_id"] == "case-li" and rating["department"] == "gzc" and rating["score"] == 2
    )
    assert rating["rectification"]["status"] == "awaiting"
    assert rating["rectification"]["deadline"] == "2026-10-09T23:59:59+08:00"

    # When 国资处 starts and answers it
    audit.rectifications.rectify(
        "case-li", "start", actor="gzc", actor_department="gzc", now=friday + timedelta(days=3)
    )
    done = audit.rectifications.rectify(
        "case-li",
        "complete",
        actor="gzc",
        actor_department="gzc",
        text="已优化流程，改为并联审批",
        now=friday + timedelta(days=4),
    )

    # Then it is done with the reply, and it is no longer open
    assert done["rectification"]["status"] == "done"
    assert done["rectification"]["reply"] == "已优化流程，改为并联审批"
    assert [step["status"] for step in done["rectification"]["history"]] == ["rectifying", "done"]
    # And another department may not touch it, nor may it be answered twice
    with pytest.raises(ForbiddenError):
        audit.rectifications.rectify("case-li", "start", actor="bwc", actor_department="bwc")
    with pytest.raises(ConflictError):
        audit.rectifications.rectify("case-li", "complete", actor="gzc", actor_department="gzc", text="再次答复")
    with pytest.raises(NotFoundError):
        audit.rectifications.rectify("case-wang", "start", actor="gzc", actor_department="gzc")


def test_a_review_ruled_invalid_and_an_overdue_one(audit: AuditHall) -> None:
    monday = datetime(2026, 11, 2, 10, 0, tzinfo=SHANGHAI)
    audit.consume(rated("case-a", 1, monday, notification_id=1))
    audit.consume(rated("case-b", 2, monday, notification_id=2))

    # When 国资处 asks to rule the first review invalid and 纪委 grants it
    audit.rectifications.rectify(
        "case-a", "request_invalid", actor="gzc", actor_department="gzc", text="评价与本事项无关"
    )
    ruled = audit.rectifications.rectify(
        "case-a", "rule_invalid", actor="discipline", actor_department="jw", text="属实，评价无效"
    )
    assert ruled["rectification"]["status"] == "ruled_invalid"

    # When the second is left untouched past its deadline
    flagged = audit.rectifications.flag_overdue_rectifications(now=monday + timedelta(days=10))

    # Then it alone is flagged overdue, once, and still counts as open for 国资处
    assert flagged == 1 and audit.rectifications.flag_overdue_rectifications(now=monday + timedelta(days=11)) == 0
    views = {view["rating_id"]: view["rectification"] for view in audit.rectifications.ratings()["ratings"]}
    assert views["case-b"]["overdue"] is True and views["case-b"]["status"] == "awaiting"
    assert views["case-a"]["overdue"] is False


def test_an_experience_check_sits_beside_the_promised_trips_and_the_report_lists_exceptions(
    audit: AuditHall,
) -> None:
    # Given 公房装修改造申请 is published with zero trips promised, and a term of cases
    audit.consume(item_published("gongfang-zhuangxiu", "gzc", 0, "online", 1))
    audit.consume(item_published("xiaoyuanka-buban", "hq", 1, "offline", 2))
    events = generated_history(60, seed=11)
    for event in events:
        audit.consume(event)

    # When 纪委 records that a student actually needed two trips and 90 minutes
    check = audit.record_check(
        "discipline", "gongfang-zhuangxiu", "张同学", 2, 90, "需到现场提交纸质图纸"
    )

    # Then the check is shown beside the promise
    assert check["trips"] == 2 and check["trips_promised"] == 0
    [item] = audit.checks("gongfang-zhuangxiu")["items"]
    assert item["trips_promised"] == 0 and [c["checker"] for c in item["checks"]] == ["张同学"]
    with pytest.raises(NotFoundError):
        audit.record_check("discipline", "no-such-item", "张同学", 1, 10, "")
    assert audit.measures(None, None)["online_rate"] == 0.5

    # When the report for the whole term is produced
    book = load_workbook(io.BytesIO(audit.report(None, None)))

    # Then there is a sheet per measure and every multi-trip case is listed as an exception
    assert {"全校指标", "最多跑一趟比例", "平均评分", "差评数", "跑动多次办件"} <= set(
        book.sheetnames
    )
    trips = Counter(e.data["case_id"] for e in events if e.type == "trip_recorded")
    listed = [row[0] for row in book["跑动多次办件"].iter_rows(min_row=2, values_only=True)]
    assert sorted(listed) == sorted(case for case, count in trips.items() if count > 1)
    ranking = [
        row
        for row in book["最多跑一趟比例"].iter_rows(min_row=2, values_only=True)
        if row[0] != "—"
    ]
    rates = [row[3] for row in ranking]
    assert rates == sorted(rates, reverse=True) and ranking[0][0] == 1


def test_a_rectification_deadline_skips_the_school_closures_in_the_holidays_file(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the school closes on Wednesday and Thursday 2026-11-04/05 (校运会), listed in the
    # holidays file the hall is started with
    closures = tmp_path / "holidays.json"
    closures.write_text('{"holidays": ["2026-11-04", "2026-11-05"]}', encoding="utf-8")
    monkeypatch.setenv("ONETRIP_HOLIDAYS_FILE", str(closures))
    monday = datetime(2026, 11, 2, 10, 0, tzinfo=SHANGHAI)

    # When 李老师 gives her case a bad review on Monday
    with audit_application(database_url, tmp_path / "audit-checkpoint.json") as audit:
        audit.consume(rated("case-li", 1, monday))
        [rating] = audit.rectifications.ratings()["ratings"]

    # Then 国资处's five working days skip the two closure days: 11-03, 11-06, 11-09, 11-10, 11-11
    assert rating["rectification"]["deadline"] == "2026-11-11T23:59:59+08:00"


def test_a_store_from_before_the_split_keeps_its_rectifications(
    database_url: str, tmp_path: Path
) -> None:
    # Given a store whose rectification was recorded in the ledger application's own stream,
    # as the single audit application did before it was split
    checkpoint = tmp_path / "audit-checkpoint.json"
    monday = datetime(2026, 11, 2, 10, 0, tzinfo=SHANGHAI)
    with audit_application(database_url, checkpoint) as audit:
        audit.ledger.save(
            Rectification(
                case_id="case-li", item_id="gongfang-zhuangxiu", item_name="公房装修改造申请",
                department="gzc", applicant="teacher1", score=1, comment="跑了三趟",
                rated_at=monday.isoformat(), deadline="2026-11-09T23:59:59+08:00",
            )
        )

    # When the audit service starts again
    with audit_application(database_url, checkpoint) as audit:
        [rating] = audit.rectifications.ratings(now=monday)["ratings"]

    # Then the rectifications application has adopted it
    assert rating["rating_id"] == "case-li" and rating["rectification"]["status"] == "awaiting"
