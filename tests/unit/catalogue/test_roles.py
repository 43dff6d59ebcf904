"""Who may do what with the catalogue; every refusal changes nothing."""

from __future__ import annotations

import pytest

from services.catalogue.application import CatalogueApplication
from shared.contracts.catalogue import ReviewRequest
from shared.errors import ForbiddenError, NotFoundError
from tests.unit.catalogue.conftest import (
    GZC_EDITOR,
    JJC_EDITOR,
    OFFICE,
    PARTY,
    PASS,
    SUPERVISOR,
    TEACHER,
    gongfang_draft,
)


def test_an_editor_of_jjc_cannot_edit_or_submit_an_item_of_gzc(app: CatalogueApplication) -> None:
    # Given a draft of 国资处
    item_id = app.create_item(GZC_EDITOR, gongfang_draft())
    # When an editor of 基建处 edits or submits it, Then both are forbidden
    with pytest.raises(ForbiddenError, match="国资处"):
        app.revise_item(JJC_EDITOR, item_id, gongfang_draft(name="基建处改的名字"))
    with pytest.raises(ForbiddenError):
        app.submit_item(JJC_EDITOR, item_id)
    # And the draft is unchanged
    item = app.get_item(item_id, viewer=GZC_EDITOR)
    assert (item["name"], item["status"]) == ("公房装修改造申请", "draft")


def test_an_editor_cannot_create_an_item_for_another_department(app: CatalogueApplication) -> None:
    with pytest.raises(ForbiddenError):
        app.create_item(JJC_EDITOR, gongfang_draft(department="gzc"))
    assert not app.exists("gongfang-zhuangxiu")


def test_only_editors_draft_only_reviewers_review_only_publishers_publish(
    app: CatalogueApplication,
) -> None:
    # Given a submitted draft of 国资处
    with pytest.raises(ForbiddenError):
        app.create_item(TEACHER, gongfang_draft())
    item_id = app.create_item(GZC_EDITOR, gongfang_draft())
    app.submit_item(GZC_EDITOR, item_id)
    # When anyone but the school office reviews, Then it is forbidden
    for actor in (GZC_EDITOR, PARTY, SUPERVISOR):
        with pytest.raises(ForbiddenError):
            app.review_item(actor, item_id, PASS)
    app.review_item(OFFICE, item_id, PASS)
    # When anyone but the party committee publishes or retires, Then it is forbidden
    for actor in (TEACHER, GZC_EDITOR, OFFICE, SUPERVISOR):
        with pytest.raises(ForbiddenError):
            app.publish_item(actor, item_id)
    assert app.get_item(item_id, viewer=OFFICE)["status"] == "reviewed"
    app.publish_item(PARTY, item_id)
    with pytest.raises(ForbiddenError):
        app.retire_item(GZC_EDITOR, item_id)
    assert app.get_item(item_id)["status"] == "published"


def test_reviewer_publisher_and_supervisor_see_drafts_other_departments_do_not(
    app: CatalogueApplication,
) -> None:
    # Given a draft of 国资处
    item_id = app.create_item(GZC_EDITOR, gongfang_draft())
    # Then the school office, the party committee and the supervisor see it
    for viewer in (OFFICE, PARTY, SUPERVISOR, GZC_EDITOR):
        assert app.get_item(item_id, viewer=viewer)["status"] == "draft"
    # But an editor of 基建处 does not
    with pytest.raises(NotFoundError):
        app.get_item(item_id, viewer=JJC_EDITOR)


def test_a_return_names_the_reviewer_as_actor(app: CatalogueApplication) -> None:
    # Given a submitted draft
    item_id = app.create_item(GZC_EDITOR, gongfang_draft())
    app.submit_item(GZC_EDITOR, item_id)
    # When the school office returns it
    app.review_item(OFFICE, item_id, ReviewRequest(decision="return", comment="请补充联系人"))
    # Then every event records who acted
    events = [app.mapper.to_domain_event(n) for n in app.notification_log.select(1, 10)]
    assert [(type(e).__name__, e.actor) for e in events] == [
        ("Drafted", "gzc"),
        ("Submitted", "gzc"),
        ("Returned", "office"),
    ]
