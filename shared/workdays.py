"""Working days (工作日): weekends and holidays, the mainland's statutory ones by default.

The statutory holidays and the adjusted working weekends (调休) come from the
``chinese_calendar`` package, which covers the years the State Council has announced.
A JSON file named by ``ONETRIP_HOLIDAYS_FILE`` adds school closures or a new year's
schedule before the package knows it::

    {"holidays": ["2027-01-01", "2027-01-02"], "workdays": ["2027-01-04"]}

A due time is the end (23:59:59, Asia/Shanghai) of the Nth working day after the day
the period starts; the starting day itself never counts (次日起算).
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

import chinese_calendar

SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")
END_OF_DAY = time(23, 59, 59)
HOLIDAYS_FILE_VARIABLE = "ONETRIP_HOLIDAYS_FILE"


@dataclass(frozen=True)
class WorkingCalendar:
    holidays: frozenset[date] = field(default_factory=frozenset)
    workdays: frozenset[date] = field(default_factory=frozenset)

    @classmethod
    def statutory(
        cls, extra_holidays: Iterable[date] = (), extra_workdays: Iterable[date] = ()
    ) -> WorkingCalendar:
        extra_holidays, extra_workdays = set(extra_holidays), set(extra_workdays)
        holidays = (set(chinese_calendar.holidays) - extra_workdays) | extra_holidays
        workdays = (set(chinese_calendar.workdays) - extra_holidays) | extra_workdays
        return cls(frozenset(holidays), frozenset(workdays))

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> WorkingCalendar:
        return cls.configured(environ.get(HOLIDAYS_FILE_VARIABLE) or "")

    @classmethod
    def configured(cls, holidays_file: str) -> WorkingCalendar:
        """The statutory calendar with the holidays file's additions (``holidays_file`` may be empty)."""
        return cls.from_file(Path(holidays_file)) if holidays_file else cls.statutory()

    @classmethod
    def from_file(cls, path: Path) -> WorkingCalendar:
        try:
            extra = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise ValueError(f"{HOLIDAYS_FILE_VARIABLE}={path} 无法读取：{error}") from error
        return cls.statutory(
            extra_holidays=_dates(extra.get("holidays", [])),
            extra_workdays=_dates(extra.get("workdays", [])),
        )

    def is_workday(self, day: date) -> bool:
        if day in self.workdays:
            return True
        return day.weekday() < 5 and day not in self.holidays

    def add_working_days(self, start: date, working_days: int) -> date:
        day = start
        counted = 0
        while counted < working_days:
            day += timedelta(days=1)
            counted += self.is_workday(day)
        return self.next_workday(day)

    def next_workday(self, day: date) -> date:
        while not self.is_workday(day):
            day += timedelta(days=1)
        return day

    def due_at(self, start: datetime, working_days: int) -> datetime:
        local_start = in_shanghai(start)
        last_day = self.add_working_days(local_start.date(), working_days)
        return datetime.combine(last_day, END_OF_DAY, tzinfo=SHANGHAI)


def in_shanghai(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("a moment needs its time zone offset")
    return moment.astimezone(SHANGHAI)


def _dates(values: Iterable[str]) -> set[date]:
    return {date.fromisoformat(value) for value in values}
