"""The backbone: an event saved by one service reaches another, with exactly-once effects."""
from __future__ import annotations

from typing import Any

import psycopg
import pytest

from shared.config import Settings
from shared.eventstore import application_env
from tests.support.backbone_services import PING_QUEUE, TALLY_QUEUE, PingApplication
from tests.support.processes import ProcessGroup, eventually

PING = "tests.support.backbone_services:PingService"
TALLY = "tests.support.backbone_services:TallyService"


def ping_app(service_env: dict[str, str]) -> PingApplication:
    settings = Settings(amqp_uri=service_env["AMQP_URI"], database_url=service_env["DATABASE_URL"])
    from shared.eventstore import ensure_schema

    ensure_schema(settings.database, "ping")
    return PingApplication(env=application_env("ping", settings))


def tallies(database_url: str) -> list[tuple[Any, ...]]:
    """(ping id, count) per ping, read from the consumer's own event store."""
    with psycopg.connect(database_url.replace("postgresql://", "postgresql://", 1)) as conn:
        exists = conn.execute("SELECT to_regclass('tally.tally_events')").fetchone()
        if not exists or exists[0] is None:
            return []
        rows = conn.execute(
            "SELECT convert_from(state, 'UTF8')::json->>'ping_id' AS ping, count(*) "
            "FROM tally.tally_events GROUP BY 1 ORDER BY 1"
        ).fetchall()
    return rows


def test_an_event_saved_by_one_service_is_applied_once_by_another(
    processes: ProcessGroup, service_env: dict[str, str]
) -> None:
    # Given the producing and the consuming service are running
    processes.start(PING).wait_for_queue(PING_QUEUE)
    processes.start(TALLY).wait_for_queue(TALLY_QUEUE)
    # When the producer saves three events
    ids = ping_app(service_env).send(["公房装修", "网络开通", "经费核算"], actor="teacher1")
    # Then each reaches the consumer and is counted exactly once
    counted = eventually(lambda: len(tallies(service_env["DATABASE_URL"])) == 3 and tallies(service_env["DATABASE_URL"]))
    assert sorted(ping for ping, _ in counted) == sorted(ids)
    assert all(count == 1 for _, count in counted)
