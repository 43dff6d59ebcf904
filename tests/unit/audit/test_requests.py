"""What the audit service's RPC takes from other services: checked before the store sees it."""

from __future__ import annotations

import pytest

from services.audit.service import TREND_PERIODS_MAX, TrendRequest, validated
from shared.errors import InvalidError

WEEK = ["2026-11-23T00:00:00+08:00", "2026-11-30T00:00:00+08:00"]


def test_a_trend_takes_pairs_of_moments() -> None:
    request = validated(TrendRequest, periods=[WEEK, WEEK])
    assert request.periods == [tuple(WEEK), tuple(WEEK)]


@pytest.mark.parametrize(
    ("periods", "problem"),
    [
        ([], "at least 1"),
        ([WEEK] * (TREND_PERIODS_MAX + 1), f"at most {TREND_PERIODS_MAX}"),
        ([WEEK[:1]], "periods.0"),
        ([[WEEK[0], WEEK[1], WEEK[1]]], "periods.0"),
        ([[1, 2]], "valid string"),
        ("2026-11-23", "valid list"),
        ([[WEEK[0], "x" * 41]], "at most 40"),
    ],
)
def test_a_trend_refuses_what_is_not_a_list_of_periods(periods: object, problem: str) -> None:
    with pytest.raises(InvalidError, match=problem):
        validated(TrendRequest, periods=periods)
