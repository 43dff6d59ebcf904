"""The work list: who sees which unpublished items of the catalogue."""

from __future__ import annotations

import pytest

from services.catalogue.application import CatalogueApplication
from shared.contracts.catalogue import ReviewRequest
from shared.errors import InvalidError
from tests.unit.catalogue.conftest import (
    GZC_EDITOR,
    JJC_EDITOR,
    OFFICE,
    PARTY,
    PASS,
    SUPERVISOR,
    TEACHER,
    gongfang_draft,
    publish_gongfang,
)


def ids(rows: list[dict]) -> list[str]:
    return [row["item_id"] for row in rows]


def test_a_submitted_item_waits_in_the_school_office_queue_until_reviewed(
    app: CatalogueApplication,
) -> None:
    # Given 国资处 drafts 公房装修改造申请 and submits it
    item_id = app.create_item(GZC_EDITOR, gongfang_draft())
    assert app.list_items(OFFICE) == []
    app.submit_item(GZC_EDITOR, item_id)
    # When the school office and the party committee list their queues
    office_queue = app.list_items(OFFICE)
    party_queue = app.list_items(PARTY)
    # Then the school office sees it as submitted, version 1 to be; the publisher sees nothing
    assert [(r["item_id"], r["name"], r["status"], r["version"]) for r in office_queue] == [
        (item_id, "公房装修改造申请", "submitted", 1)
    ]
    assert party_queue == []
    # When the school office passes it
    app.review_item(OFFICE, item_id, PASS)
    # Then it moves from the reviewer's queue to the publisher's
    assert app.list_items(OFFICE) == []
    assert [(r["item_id"], r["status"]) for r in app.list_items(PARTY)] == [(item_id, "reviewed")]
    # And once published it leaves every queue
    app.publish_item(PARTY, item_id)
    assert app.list_items(PARTY) == [] and app.list_items(GZC_EDITOR) == []


def test_an_editor_lists_own_department_drafts_and_returned_items_only(
    app: CatalogueApplication,
) -> None:
    # Given 国资处 has a returned item and a new draft of a published one; 基建处 has a draft
    returned_id = app.create_item(GZC_EDITOR, gongfang_draft(item_id="gongfang-returned"))
    app.submit_item(GZC_EDITOR, returned_id)
    app.review_item(OFFICE, returned_id, ReviewRequest(decision="return", comment="请补充材料"))
    published_id = publish_gongfang(app, item_id="gongfang-live")
    app.revise_item(GZC_EDITOR, published_id, gongfang_draft(time_limit_days=8, item_id=None))
    app.create_item(JJC_EDITOR, gongfang_draft(item_id="jijian-draft", department="jjc"))
    # When the 国资处 editor lists the department's unpublished items
    mine = app.list_items(GZC_EDITOR)
    # Then both 国资处 items are there, the revised one as version 2 to be, not 基建处's
    assert sorted((r["item_id"], r["status"], r["version"]) for r in mine) == [
        ("gongfang-live", "draft", 2),
        ("gongfang-returned", "returned", 1),
    ]
    # And a status narrows the list
    assert ids(app.list_items(GZC_EDITOR, "returned")) == ["gongfang-returned"]
    # And the supervisor oversees every department's unpublished items
    assert len(app.list_items(SUPERVISOR)) == 3


def test_an_applicant_sees_no_unpublished_items_and_a_published_status_is_refused(
    app: CatalogueApplication,
) -> None:
    # Given a submitted item
    item_id = app.create_item(GZC_EDITOR, gongfang_draft())
    app.submit_item(GZC_EDITOR, item_id)
    # Then a teacher lists nothing, and asking for published items here is refused
    assert app.list_items(TEACHER) == []
    with pytest.raises(InvalidError):
        app.list_items(OFFICE, "published")


def test_a_read_after_a_change_catches_up_with_the_notification_log(
    app: CatalogueApplication,
) -> None:
    # Given the work list was read before a submit
    item_id = app.create_item(GZC_EDITOR, gongfang_draft())
    assert app.list_items(OFFICE) == []
    # When the item is submitted afterwards
    app.submit_item(GZC_EDITOR, item_id)
    # Then the next read catches up with the log
    assert ids(app.list_items(OFFICE)) == [item_id]
