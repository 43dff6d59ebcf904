"""What the catalogue tells the bus, and the demo catalogue it seeds."""

from __future__ import annotations

from services.catalogue.application import CatalogueApplication
from services.catalogue.demo import seed_demo
from shared.contracts.catalogue import Item, ReviewRequest
from tests.unit.catalogue.conftest import GZC_EDITOR, OFFICE, PARTY, PASS, gongfang_draft


def published_events(app: CatalogueApplication) -> list:
    notifications = app.recorder.select_notifications(start=None, limit=100)
    return [event for n in notifications if (event := app.integration_event(n))]


def test_every_step_of_the_lifecycle_is_an_integration_event_with_its_actor(
    app: CatalogueApplication,
) -> None:
    # Given 公房装修改造申请 is drafted, returned, fixed, passed, published and retired
    item_id = app.create_item(GZC_EDITOR, gongfang_draft())
    app.submit_item(GZC_EDITOR, item_id)
    app.review_item(OFFICE, item_id, ReviewRequest(decision="return", comment="请补充材料说明"))
    app.revise_item(GZC_EDITOR, item_id, gongfang_draft())
    app.submit_item(GZC_EDITOR, item_id)
    app.review_item(OFFICE, item_id, PASS)
    app.publish_item(PARTY, item_id)
    app.retire_item(PARTY, item_id)
    # When the outbox relay reads the notification log
    events = published_events(app)
    # Then each step is on the bus, in order, with who did it
    assert [(e.type, e.actor) for e in events] == [
        ("item_drafted", "gzc"),
        ("item_submitted", "gzc"),
        ("item_returned", "office"),
        ("item_revised", "gzc"),
        ("item_submitted", "gzc"),
        ("item_reviewed", "office"),
        ("item_published", "party"),
        ("item_retired", "party"),
    ]
    assert events[2].data == {
        "item_id": item_id,
        "department": "gzc",
        "comment": "请补充材料说明",
        "lead_department": None,
    }
    assert events[-1].data == {"item_id": item_id, "department": "gzc", "version": 1}


def test_item_published_carries_the_whole_published_item(app: CatalogueApplication) -> None:
    # Given the demo catalogue is seeded
    seed_demo(app)
    # When item_published of 公房装修改造申请 is read
    published = [e for e in published_events(app) if e.type == "item_published"]
    data = next(e.data for e in published if e.data["item_id"] == "gongfang-zhuangxiu")
    # Then it is the full item as the public reads it: materials, flow, time limits
    assert data == Item.model_validate(app.get_item("gongfang-zhuangxiu")).model_dump(mode="json")
    assert (data["version"], data["trips"], data["time_limit_days"]) == (1, 0, 10)
    assert [s["name"] for s in data["flow"]["stages"]] == ["并行审批", "经费核算"]
    assert len(data["flow"]["stages"][0]["nodes"]) == 6
    assert published[0].aggregate_id != published[1].aggregate_id


def test_the_demo_catalogue_is_seeded_once(app: CatalogueApplication) -> None:
    # Given the demo catalogue was seeded
    first = seed_demo(app)
    # When it is seeded again
    second = seed_demo(app)
    # Then the first run created the three demo items and the second nothing
    assert first == ["gongfang-zhuangxiu", "wangluo-kaitong", "cheliang-tongxing"]
    assert second == []
    assert [s["item_id"] for s in app.search_items()] == ["gongfang-zhuangxiu", "wangluo-kaitong"]
    assert app.get_item("cheliang-tongxing", viewer=PARTY)["status"] == "draft"
    gongfang = app.get_item("gongfang-zhuangxiu")
    assert len(gongfang["notes"]) == 4 and len(gongfang["materials"]) == 3
    assert {c["department"] for c in gongfang["contacts"]} == {
        "gzc",
        "jjc",
        "xxh",
        "hq",
        "bwc",
        "bmc",
        "cwc",
    }


def test_seeding_never_pushes_an_editors_draft_of_a_demo_item(app: CatalogueApplication) -> None:
    # Given the demo is seeded and 国资处 starts editing 公房装修改造申请
    seed_demo(app)
    app.revise_item(GZC_EDITOR, "gongfang-zhuangxiu", gongfang_draft(time_limit_days=7))
    # When the service restarts and seeds again
    seed_demo(app)
    # Then the editor's draft stays a draft and version 1 stays public
    assert app.get_item("gongfang-zhuangxiu", viewer=GZC_EDITOR)["status"] == "draft"
    assert app.get_item("gongfang-zhuangxiu")["version"] == 1
