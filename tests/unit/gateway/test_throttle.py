from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.gateway.throttle import LoginPolicy, Window

policy = LoginPolicy(limit=5, period=timedelta(minutes=15))
NINE = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


def attempts(count: int, start: datetime = NINE, every: timedelta = timedelta(minutes=1)) -> Window:
    window: Window | None = None
    for n in range(count):
        window = policy.count(window, start + n * every)
    assert window is not None
    return window


def test_five_attempts_within_fifteen_minutes_are_allowed_and_the_sixth_is_not() -> None:
    # Given five attempts one minute apart
    fifth = attempts(5)
    # Then all five were allowed
    assert policy.allows(fifth)
    # When a sixth comes a minute later
    sixth = policy.count(fifth, NINE + timedelta(minutes=5))
    # Then it is refused until the window started at nine is over
    assert not policy.allows(sixth)
    assert policy.retry_after_seconds(sixth, NINE + timedelta(minutes=5)) == 10 * 60


def test_a_new_window_starts_fifteen_minutes_after_the_first_attempt() -> None:
    # Given someone locked out at nine
    locked = attempts(6)
    # When they try again at 9:15
    later = policy.count(locked, NINE + timedelta(minutes=15))
    # Then the count starts again
    assert later == Window(NINE + timedelta(minutes=15), 1)
    assert policy.allows(later)


def test_attempts_keep_counting_while_locked_out_without_extending_the_window() -> None:
    locked = attempts(9)
    assert locked.started_at == NINE
    assert locked.attempts == 9
    assert not policy.allows(locked)


def test_retry_after_is_at_least_one_second() -> None:
    locked = attempts(6)
    assert policy.retry_after_seconds(locked, NINE + timedelta(minutes=15)) == 1
