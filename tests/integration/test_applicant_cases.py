"""Each applicant's cases, newest first: a read model of the case events (the inbox's
``applicant_cases`` table), filled again from the events for a store that predates it."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import psycopg
import pytest

from services.approval.application import ApprovalApplication
from services.approval.inbox import TaskInbox
from shared.config import Settings
from shared.eventstore import open_application
from shared.workdays import SHANGHAI
from tests.unit.approval.support import Clock, renovation_item, submit_complete

pytestmark = pytest.mark.integration


@pytest.fixture
def app(database_url: str) -> Iterator[ApprovalApplication]:
    application = open_application(ApprovalApplication, "approval", Settings(database_url=database_url))
    application.inbox = TaskInbox(application)
    application.inbox.create_tables()
    application.learn_item(renovation_item())
    yield application
    application.close()


def submitted(app: ApprovalApplication, clock: Clock, **overrides: object) -> str:
    case = submit_complete(app, clock, **overrides)
    app.inbox.catch_up()  # as the service does after every command
    return str(case["case_id"])


def test_an_applicant_lists_her_own_cases_newest_first(app: ApprovalApplication) -> None:
    clock = Clock(datetime(2026, 11, 27, 9, 0, tzinfo=SHANGHAI))
    first = submitted(app, clock)
    second = submitted(app, clock, now=clock.advance(days=1))
    submitted(app, clock, applicant="teacher2", own_files=set(), now=clock.advance(days=2))
    assert app.inbox.applicant_case_ids("teacher1") == [second, first]
    assert app.inbox.applicant_case_ids("student1") == []


def test_one_applicant_submitting_ten_cases_at_once_gets_all_ten_listed(
    app: ApprovalApplication,
) -> None:
    # (Before, each applicant's cases were one aggregate that every submit contended for.)
    clock = Clock(datetime(2026, 11, 27, 9, 0, tzinfo=SHANGHAI))
    with ThreadPoolExecutor(max_workers=10) as pool:
        case_ids = set(pool.map(lambda _: str(submit_complete(app, clock)["case_id"]), range(10)))
    app.inbox.catch_up()
    assert len(case_ids) == 10 and set(app.inbox.applicant_case_ids("teacher1")) == case_ids


def test_a_store_from_before_the_table_gets_it_filled_from_the_case_events(
    app: ApprovalApplication, database_url: str
) -> None:
    # Given cases submitted and passed by the inbox, and then the table gone (an older store)
    clock = Clock(datetime(2026, 11, 27, 9, 0, tzinfo=SHANGHAI))
    older = [submitted(app, clock, now=clock.advance(hours=n)) for n in range(3)]
    other = submitted(app, clock, applicant="teacher2", own_files=set(), now=clock.advance(days=1))
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("DROP TABLE approval.applicant_cases")

    # When the service starts and makes its tables
    restarted = TaskInbox(app)
    restarted.create_tables()

    # Then every applicant's cases are listed again, newest first, and new ones join them
    assert restarted.applicant_case_ids("teacher1") == list(reversed(older))
    assert restarted.applicant_case_ids("teacher2") == [other]
    newest = submitted(app, clock, now=clock.advance(days=2))
    restarted.catch_up()
    assert restarted.applicant_case_ids("teacher1") == [newest, *reversed(older)]


def test_cases_are_listed_a_page_at_a_time_with_the_total(app: ApprovalApplication) -> None:
    clock = Clock(datetime(2026, 11, 27, 9, 0, tzinfo=SHANGHAI))
    newest_first = [submitted(app, clock, now=clock.advance(hours=1)) for _ in range(5)][::-1]

    assert app.inbox.case_page(applicant="teacher1", limit=2) == (newest_first[:2], 5)
    assert app.inbox.case_page(applicant="teacher1", limit=2, offset=4) == (newest_first[4:], 5)
    assert app.inbox.case_page(applicant="teacher1", limit=2, offset=10) == ([], 5)
    assert app.inbox.case_page(applicant="nobody", limit=2) == ([], 0)
    # and a department sees the same cases, paged the same way
    assert app.inbox.case_page(department="gzc", limit=3, offset=1) == (newest_first[1:4], 5)
