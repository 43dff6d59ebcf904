"""How the pages show measured figures to people."""

from __future__ import annotations

import pytest

from services.gateway.web.core import figure, percent


@pytest.mark.parametrize(
    ("value", "digits", "shown"),
    [
        (None, 1, "—"),
        (0, 1, "0.0"),
        (0.0046, 1, "不足 0.1"),
        (0.05, 1, "不足 0.1"),
        (0.1, 1, "0.1"),
        (26.35, 1, "26.4"),
        (1.3333, 2, "1.33"),
        (0.004, 2, "不足 0.01"),
    ],
)
def test_a_figure_has_one_decimal_and_never_a_string_of_zeros(
    value: float | None, digits: int, shown: str
) -> None:
    assert figure(value, digits) == shown


def test_a_rate_is_a_whole_percentage_or_a_dash() -> None:
    assert (percent(None), percent(0.0), percent(0.956)) == ("—", "0%", "96%")
