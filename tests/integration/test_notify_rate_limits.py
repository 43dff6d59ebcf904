"""Per-phone SMS limits, decided in PostgreSQL so several notify instances share them."""
from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest

from services.notify.application import NotifyApplication
from services.notify.worktable import SmsLimits, WorkTable, phone_hash
from shared.config import Settings
from shared.eventstore import application_env, ensure_schema

pytestmark = pytest.mark.integration

LI = "13800000001"
LIMITS = SmsLimits(min_interval_seconds=60, per_day=3)


@pytest.fixture
def work(database_url: str, amqp_uri: str) -> Iterator[WorkTable]:
    settings = Settings(amqp_uri=amqp_uri, database_url=database_url)
    ensure_schema(settings.database, "notify")
    app = NotifyApplication(env=application_env("notify", settings))
    yield WorkTable(app)
    app.close()


def queue_sms(database_url: str, phone: str, *, final: bool = False, sent_hours_ago: float | None = None) -> uuid.UUID:
    notification_id = uuid.uuid4()
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO notify.delivery_work (notification_id, channel, phone_hash, final, state, slot_at) "
            "VALUES (%s, 'sms', %s, %s, %s, CASE WHEN %s::float IS NULL THEN NULL "
            "ELSE now() - make_interval(secs => %s::float * 3600) END)",
            (notification_id, phone_hash(phone), final,
             "queued" if sent_hours_ago is None else "sent", sent_hours_ago, sent_hours_ago),
        )
    return notification_id


def test_a_phone_gets_at_most_one_sms_a_minute_but_the_outcome_always_goes(
    work: WorkTable, database_url: str
) -> None:
    # Given two ordinary messages queued for 李老师's phone
    first = queue_sms(database_url, LI)
    second = queue_sms(database_url, LI)
    # When the dispatcher claims due work
    claimed = {c.notification_id for c in work.claim(10, 30, LIMITS)}
    # Then one goes now and the other waits its minute
    assert len(claimed) == 1 and claimed < {first, second}
    waiting = ({first, second} - claimed).pop()
    with psycopg.connect(database_url) as conn:
        (delay,) = conn.execute(
            "SELECT extract(epoch FROM due_at - now()) FROM notify.delivery_work WHERE notification_id = %s",
            (waiting,),
        ).fetchone()
    assert 30 < float(delay) <= 61
    # But the final outcome goes at once, within the same minute
    outcome = queue_sms(database_url, LI, final=True)
    assert [c.notification_id for c in work.claim(10, 30, LIMITS)] == [outcome]
    # And another phone is not held back by 李老师's
    other = queue_sms(database_url, "13800000002")
    assert [c.notification_id for c in work.claim(10, 30, LIMITS)] == [other]


def test_over_the_daily_limit_an_sms_is_refused_but_the_outcome_is_not(
    work: WorkTable, database_url: str
) -> None:
    # Given three SMS already sent to the phone today, the last two hours ago
    for hours in (5, 3, 2):
        queue_sms(database_url, LI, sent_hours_ago=hours)
    # When a fourth ordinary message and the final outcome are due
    ordinary = queue_sms(database_url, LI)
    outcome = queue_sms(database_url, LI, final=True)
    claims = {c.notification_id: c for c in work.claim(10, 30, LIMITS)}
    # Then the ordinary one is marked over the daily limit, and the outcome is sent
    assert claims[ordinary].over_daily_limit is True
    assert claims[outcome].over_daily_limit is False
