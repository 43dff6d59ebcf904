"""The supervision figures (督查): an application of its own that follows the ledger.

Its read model is the case and item facts of ``services.audit.supervision``, kept in their
own tables with their own position; it catches up when asked for figures, so a burst of
appends pays nothing for them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

from eventsourcing.system import Follower

from services.audit import supervision
from services.audit.replay import parse_moment
from services.audit.supervision import Facts, SupervisionFacts
from shared.config import Settings
from shared.errors import InvalidError
from shared.followers import Tables

T = TypeVar("T", datetime, datetime | None)


class SupervisionFigures(Follower[Any]):
    name = "supervision"

    def __init__(self, env: dict[str, str] | None = None, settings: Settings | None = None) -> None:
        super().__init__(env)  # the figures need no setting beyond the database's
        self.tables = Tables.of(self)
        self.facts = SupervisionFacts(self.tables)
        self.facts.create_tables()

    def pull_and_process(
        self, leader_name: str, start: int | None = None, stop: int | None = None
    ) -> None:
        self.catch_up()

    def catch_up(self, rebuild: bool = False) -> int:
        return self.facts.rebuild() if rebuild else self.facts.catch_up()

    def cases(self, from_: str | None, to: str | None) -> list[Facts]:
        return self.cases_between(*parse_period(from_, to))

    def cases_between(self, start: datetime | None, end: datetime | None) -> list[Facts]:
        self.catch_up()
        with self.tables.transaction(commit=False) as curs:
            return supervision.cases_submitted(curs, self.tables.schema, start, end)

    def items(self) -> list[Facts]:
        self.catch_up()
        with self.tables.transaction(commit=False) as curs:
            return supervision.all_items(curs, self.tables.schema)


def parse_period(start: str | None, end: str | None) -> tuple[datetime | None, datetime | None]:
    """A [start, end) period whose sides may be open (None)."""
    return _ordered(parse_moment(start) if start else None, parse_moment(end) if end else None)


def period_bounds(start: str, end: str) -> tuple[datetime, datetime]:
    """A [start, end) period with both sides given."""
    return _ordered(parse_moment(start), parse_moment(end))


def _ordered(begin: T, finish: T) -> tuple[T, T]:
    if begin and finish and finish <= begin:
        raise InvalidError("统计区间的结束时间必须晚于开始时间")
    return begin, finish
