from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from services.approval.application import ApprovalApplication
from shared.workdays import SHANGHAI, WorkingCalendar
from tests.unit.approval.support import IN_MEMORY, Clock, node, renovation_item, submit_complete

CALENDAR = WorkingCalendar.statutory()


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_a_weekend_is_skipped() -> None:
    # Given a node opened on Friday morning with 2 working days
    # When its due time is computed
    due = CALENDAR.due_at(at("2026-11-27T10:00:00+08:00"), 2)
    # Then Saturday and Sunday do not count: it is due at the end of Tuesday
    assert due.isoformat() == "2026-12-01T23:59:59+08:00"


def test_national_day_is_skipped_and_its_adjusted_saturday_counts() -> None:
    # Given 国庆 2026: 10-01..10-07 off, Saturday 10-10 a working day (调休)
    # When a node opens on the last day of September
    one_day = CALENDAR.due_at(at("2026-09-30T16:00:00+08:00"), 1)
    three_days = CALENDAR.due_at(at("2026-09-30T16:00:00+08:00"), 3)
    # Then the holiday week does not count and the adjusted Saturday does
    assert one_day.isoformat() == "2026-10-08T23:59:59+08:00"
    assert three_days.isoformat() == "2026-10-10T23:59:59+08:00"


def test_the_sunday_worked_before_national_day_counts() -> None:
    # Given Sunday 2026-09-20 is a working day (调休)
    # When a node opens on Saturday 09-19 with one working day
    due = CALENDAR.due_at(at("2026-09-19T11:00:00+08:00"), 1)
    # Then it is due that Sunday
    assert due.isoformat() == "2026-09-20T23:59:59+08:00"


def test_spring_festival_2026_is_skipped() -> None:
    # Given 春节 2026: 02-15..02-23 off, Saturdays 02-14 and 02-28 working days
    start = at("2026-02-13T09:30:00+08:00")  # Friday before the holiday
    # When due times are computed from the Friday before
    # Then the adjusted Saturday counts, the holiday does not
    assert CALENDAR.due_at(start, 1).isoformat() == "2026-02-14T23:59:59+08:00"
    assert CALENDAR.due_at(start, 2).isoformat() == "2026-02-24T23:59:59+08:00"
    assert CALENDAR.due_at(start, 6).isoformat() == "2026-02-28T23:59:59+08:00"
    assert not CALENDAR.is_workday(date(2026, 2, 17))


def test_a_configured_school_holiday_and_workday(tmp_path: Path) -> None:
    # Given a holidays file closing the school on Tuesday 12-01 and opening Saturday 11-28
    holidays = tmp_path / "holidays.json"
    holidays.write_text(
        json.dumps({"holidays": ["2026-12-01"], "workdays": ["2026-11-28"]}), encoding="utf-8"
    )
    calendar = WorkingCalendar.from_env({"ONETRIP_HOLIDAYS_FILE": str(holidays)})
    # When a node opens on Friday with 2 working days
    due = calendar.due_at(at("2026-11-27T10:00:00+08:00"), 2)
    # Then Saturday counts and Tuesday does not
    assert due.isoformat() == "2026-11-30T23:59:59+08:00"
    assert calendar.due_at(at("2026-11-27T10:00:00+08:00"), 3).isoformat() == (
        "2026-12-02T23:59:59+08:00"
    )


def test_a_year_not_yet_announced_falls_back_to_weekends_plus_the_configured_days() -> None:
    # Given 2027's holidays are not yet in the package, and 元旦 2027 is configured
    calendar = WorkingCalendar.statutory(extra_holidays=[date(2027, 1, 1)])
    # When a node opens on Thursday 2026-12-31 with one working day
    due = calendar.due_at(at("2026-12-31T10:00:00+08:00"), 1)
    # Then Friday 01-01 is off and the weekend too: due on Monday
    assert due.isoformat() == "2027-01-04T23:59:59+08:00"


def test_a_start_in_utc_counts_from_the_day_in_shanghai() -> None:
    # Given 18:00 UTC on Friday is 02:00 on Saturday in Shanghai
    start = datetime(2026, 11, 27, 18, 0, tzinfo=UTC)
    # When one working day is added / Then it is Monday's
    assert CALENDAR.due_at(start, 1).isoformat() == "2026-11-30T23:59:59+08:00"


def test_a_moment_without_offset_is_refused() -> None:
    with pytest.raises(ValueError):
        CALENDAR.due_at(datetime(2026, 11, 27, 10, 0), 1)


def test_the_application_takes_its_holidays_from_the_environment(tmp_path: Path) -> None:
    # Given the school closes on Tuesday 2026-12-01
    holidays = tmp_path / "holidays.json"
    holidays.write_text(json.dumps({"holidays": ["2026-12-01"]}), encoding="utf-8")
    app = ApprovalApplication(env={**IN_MEMORY, "ONETRIP_HOLIDAYS_FILE": str(holidays)})
    clock = Clock(datetime(2026, 11, 27, 10, 0, tzinfo=SHANGHAI))
    app.learn_item(renovation_item(), now=clock.now())
    # When 李老师 applies on Friday
    case = submit_complete(app, clock)
    # Then each parallel node is due on Wednesday, not Tuesday
    assert node(case, "gzc")["due_at"] == "2026-12-02T23:59:59+08:00"
    app.close()


def test_an_unreadable_holidays_file_is_named_in_the_error(tmp_path: Path) -> None:
    broken = tmp_path / "holidays.json"
    broken.write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match="ONETRIP_HOLIDAYS_FILE"):
        WorkingCalendar.from_env({"ONETRIP_HOLIDAYS_FILE": str(broken)})
