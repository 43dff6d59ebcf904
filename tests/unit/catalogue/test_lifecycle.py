"""The life of 公房装修改造申请 in the catalogue: drafted, returned, fixed, reviewed, published, revised."""

from __future__ import annotations

import pytest

from services.catalogue.application import CatalogueApplication
from shared.contracts.catalogue import ReviewRequest
from shared.errors import ConflictError, NotFoundError
from tests.unit.catalogue.conftest import (
    GZC_EDITOR,
    OFFICE,
    PARTY,
    PASS,
    TEACHER,
    gongfang_draft,
    publish_gongfang,
)


def test_an_item_is_returned_fixed_reviewed_and_published_as_version_1(
    app: CatalogueApplication,
) -> None:
    # Given an editor of 国资处 drafts 公房装修改造申请 and submits it
    item_id = app.create_item(GZC_EDITOR, gongfang_draft(time_limit_days=15))
    app.submit_item(GZC_EDITOR, item_id)
    # When the school office returns it with a comment
    returned = app.review_item(
        OFFICE, item_id, ReviewRequest(decision="return", comment="承诺时限请压缩到10个工作日")
    )
    # Then the editor sees the comment on the returned draft
    assert returned == "returned"
    seen = app.get_item(item_id, viewer=GZC_EDITOR)
    assert (seen["status"], seen["review_comment"]) == ("returned", "承诺时限请压缩到10个工作日")
    # When the editor fixes it, resubmits, it passes with 国资处 as lead and is published
    app.revise_item(GZC_EDITOR, item_id, gongfang_draft(time_limit_days=10, lead_department=None))
    app.submit_item(GZC_EDITOR, item_id)
    app.review_item(OFFICE, item_id, ReviewRequest(decision="pass", lead_department="gzc"))
    version = app.publish_item(PARTY, item_id)
    # Then the public reads version 1 with the fix and the lead department the reviewer set
    public = app.get_item(item_id)
    assert version == 1
    assert (public["status"], public["version"], public["time_limit_days"]) == ("published", 1, 10)
    assert public["lead_department"] == "gzc"
    assert [m["name"] for m in public["materials"]] == ["审批表", "改造前结构图", "本次结构设计图"]


def test_a_new_draft_of_a_published_item_leaves_version_1_served_until_version_2(
    app: CatalogueApplication,
) -> None:
    # Given 公房装修改造申请 is published as version 1
    item_id = publish_gongfang(app)
    # When the editor drafts a change
    app.revise_item(GZC_EDITOR, item_id, gongfang_draft(time_limit_days=8))
    # Then the public still reads version 1, the editor reads the draft of version 2
    assert (app.get_item(item_id)["version"], app.get_item(item_id)["time_limit_days"]) == (1, 10)
    draft = app.get_item(item_id, viewer=GZC_EDITOR)
    assert (draft["status"], draft["version"], draft["time_limit_days"]) == ("draft", 2, 8)
    assert app.search_items("装修")[0]["version"] == 1
    # When the change is reviewed and published
    app.submit_item(GZC_EDITOR, item_id)
    app.review_item(OFFICE, item_id, PASS)
    assert app.publish_item(PARTY, item_id) == 2
    # Then version 2 is served and version 1 stays readable
    assert app.get_item(item_id)["time_limit_days"] == 8
    assert app.get_item(item_id, version=1)["time_limit_days"] == 10
    assert app.get_item(item_id, version=2)["version"] == 2
    assert app.search_items("装修")[0]["version"] == 2


def test_publishing_needs_a_review_first(app: CatalogueApplication) -> None:
    # Given a submitted but not yet reviewed item
    item_id = app.create_item(GZC_EDITOR, gongfang_draft())
    app.submit_item(GZC_EDITOR, item_id)
    # When the party committee tries to publish it
    # Then it is a conflict and nothing is public
    with pytest.raises(ConflictError, match="审核通过"):
        app.publish_item(PARTY, item_id)
    with pytest.raises(NotFoundError):
        app.get_item(item_id)


def test_a_submitted_item_cannot_be_edited_or_submitted_twice(app: CatalogueApplication) -> None:
    # Given a submitted item
    item_id = app.create_item(GZC_EDITOR, gongfang_draft())
    app.submit_item(GZC_EDITOR, item_id)
    # When its editor edits or submits again, Then both are conflicts
    with pytest.raises(ConflictError):
        app.revise_item(GZC_EDITOR, item_id, gongfang_draft(time_limit_days=5))
    with pytest.raises(ConflictError):
        app.submit_item(GZC_EDITOR, item_id)


def test_a_retired_item_disappears_from_the_public_catalogue(app: CatalogueApplication) -> None:
    # Given a published item
    item_id = publish_gongfang(app)
    # When the party committee retires it
    app.retire_item(PARTY, item_id)
    # Then nobody from the public finds or reads it, while staff still see it as retired
    assert app.search_items("装修") == []
    with pytest.raises(NotFoundError):
        app.get_item(item_id, viewer=TEACHER)
    assert app.get_item(item_id, viewer=GZC_EDITOR)["status"] == "retired"
    with pytest.raises(ConflictError):
        app.retire_item(PARTY, item_id)


def test_a_draft_is_never_shown_to_the_public(app: CatalogueApplication) -> None:
    # Given a draft of 国资处
    item_id = app.create_item(GZC_EDITOR, gongfang_draft())
    # When the public or an applicant asks for it, Then it does not exist for them
    for viewer in (None, TEACHER):
        with pytest.raises(NotFoundError):
            app.get_item(item_id, viewer=viewer)
    assert app.search_items("装修") == []


def test_the_slug_is_the_item_id_and_a_second_use_is_a_conflict(app: CatalogueApplication) -> None:
    # Given an item drafted with the slug gongfang-zhuangxiu
    assert app.create_item(GZC_EDITOR, gongfang_draft()) == "gongfang-zhuangxiu"
    # When another draft takes the same slug, Then it is refused
    with pytest.raises(ConflictError, match="gongfang-zhuangxiu"):
        app.create_item(GZC_EDITOR, gongfang_draft())
    # And a draft without a slug gets a generated one
    generated = app.create_item(GZC_EDITOR, gongfang_draft(item_id=None))
    assert generated.startswith("item-") and generated != "gongfang-zhuangxiu"
