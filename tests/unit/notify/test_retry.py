"""Retries back off exponentially with jitter, up to a cap and a bound on attempts."""
from __future__ import annotations

import random

from services.notify.delivery import RetryPolicy
from services.notify.senders import DeliveryError, _sms_receipt


def test_delays_double_with_jitter_and_stop_at_the_cap() -> None:
    policy = RetryPolicy(base_seconds=2, cap_seconds=60, max_attempts=8, rng=random.Random(7))
    delays = [policy.delay(attempt).total_seconds() for attempt in range(1, 8)]
    ceilings = [2, 4, 8, 16, 32, 60, 60]
    assert all(ceiling / 2 <= delay <= ceiling for delay, ceiling in zip(delays, ceilings))
    assert len({round(d, 6) for d in delays}) == len(delays)


def test_the_bound_ends_the_retries() -> None:
    policy = RetryPolicy(max_attempts=5)
    assert not policy.gives_up(4) and policy.gives_up(5)


def test_provider_answers_map_to_receipts_and_errors() -> None:
    assert _sms_receipt(200, {"code": "OK", "message_id": "m-1"}).provider_id == "m-1"
    for status, permanent in ((400, True), (429, False), (503, False)):
        try:
            _sms_receipt(status, {"code": "X", "message": "运营商通道暂不可用"})
        except DeliveryError as exc:
            assert exc.permanent is permanent and "运营商通道暂不可用" in exc.reason
        else:
            raise AssertionError(f"{status} was taken for a success")
