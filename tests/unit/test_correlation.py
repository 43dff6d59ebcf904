"""The correlation id a request is followed by: taken from traceparent or X-Request-Id when
they hold one, never from anything a log line or a header could be bent by."""
from __future__ import annotations

import json
import logging

from shared import correlation
from shared.logs import JsonFormatter

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def test_a_traceparent_gives_its_trace_id() -> None:
    assert correlation.of_headers({"traceparent": f"00-{TRACE}-00f067aa0ba902b7-01"}) == TRACE


def test_an_all_zero_or_malformed_traceparent_is_not_followed() -> None:
    zero = correlation.of_headers({"traceparent": f"00-{'0' * 32}-00f067aa0ba902b7-01"})
    bent = correlation.of_headers({"traceparent": f"00-{TRACE}-zz-01"})
    assert zero != "0" * 32 and bent != TRACE
    assert len(zero) == 32 and len(bent) == 32


def test_a_request_id_is_followed_only_when_it_is_plain() -> None:
    assert correlation.of_headers({"X-Request-Id": "campus-req.0001"}) == "campus-req.0001"
    for hostile in ["short", "a\nb" * 10, "x" * 65, "带中文的编号编号编号", "a b c d e f g h"]:
        made = correlation.of_headers({"X-Request-Id": hostile})
        assert made != hostile and len(made) == 32


def test_without_headers_a_new_id_each_time() -> None:
    assert correlation.of_headers({}) != correlation.of_headers({})


def test_json_log_lines_carry_the_bound_id_and_stay_masked() -> None:
    record = logging.LogRecord("onetrip.test", logging.INFO, __file__, 1,
                               "SMS to %s", ("13800138000",), None)
    with correlation.bound(TRACE):
        line = json.loads(JsonFormatter().format(record))
    assert line["correlation_id"] == TRACE and line["level"] == "INFO"
    assert "13800138000" not in line["message"]
    outside = json.loads(JsonFormatter().format(record))
    assert "correlation_id" not in outside
