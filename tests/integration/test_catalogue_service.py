"""The catalogue on real PostgreSQL and RabbitMQ: its search read model and what it tells the bus."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from services.catalogue.application import CatalogueApplication
from services.catalogue.demo import seed_demo
from shared.caller import signed_cluster_rpc
from shared.config import Settings
from shared.eventstore import application_env, ensure_schema
from tests.support.bus import Observer
from tests.support.processes import ProcessGroup, eventually
from tests.unit.catalogue.conftest import GZC_EDITOR, PARTY, gongfang_draft, publish_gongfang

pytestmark = pytest.mark.integration


def open_app(database_url: str) -> CatalogueApplication:
    settings = Settings(database_url=database_url)
    ensure_schema(settings.database, "catalogue")
    return CatalogueApplication(env=application_env("catalogue", settings))


@pytest.fixture
def catalogue(database_url: str) -> Iterator[CatalogueApplication]:
    app = open_app(database_url)
    yield app
    app.close()


def read_model(database_url: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(database_url) as conn:
        return conn.execute(
            "SELECT item_id, name, version FROM catalogue.item_search ORDER BY item_id"
        ).fetchall()


def test_search_finds_published_items_by_chinese_substring_and_never_drafts(
    catalogue: CatalogueApplication, database_url: str
) -> None:
    # Given the demo catalogue: two published items and a draft of 保卫处
    seed_demo(catalogue)
    # When the public searches for 装修, for a phrase of a description, and by department
    by_name = catalogue.search_items("装修")
    by_description = catalogue.search_items("校园网账号")
    of_bwc = catalogue.search_items(department="bwc")
    # Then 公房装修改造申请 and 校园网账号开通 are found, the draft is not
    assert by_name == [
        {
            "item_id": "gongfang-zhuangxiu",
            "name": "公房装修改造申请",
            "department": "gzc",
            "trips": 0,
            "mode": "online",
            "version": 1,
        }
    ]
    assert [s["item_id"] for s in by_description] == ["wangluo-kaitong"]
    assert of_bwc == [] and catalogue.search_items("车辆通行证") == []
    # And the answers come from the read model table in the catalogue schema
    assert read_model(database_url) == [
        ("gongfang-zhuangxiu", "公房装修改造申请", 1),
        ("wangluo-kaitong", "校园网账号开通", 1),
    ]
    assert catalogue.search_items("%") == [] and catalogue.search_items("装修_") == []


def test_search_ignores_latin_case_and_never_matches_across_name_and_description(
    catalogue: CatalogueApplication, database_url: str
) -> None:
    # Given an item whose name ends in Latin letters and whose description starts with Chinese
    item_id = publish_gongfang(
        catalogue, name="校园 VPN", description="校外访问校内资源,需先开通统一身份认证账号。"
    )
    # Then any case of the Latin letters finds it, in the name and the description
    for query in ("vpn", "VPN", "Vpn", "统一身份认证"):
        assert [s["item_id"] for s in catalogue.search_items(query)] == [item_id], query
    # And the end of the name joined to the start of the description is not a match
    assert catalogue.search_items("VPN校外") == [] and catalogue.search_items("vpn 校外") == []


def test_a_search_table_from_before_the_lower_cased_column_gets_it_on_start(
    catalogue: CatalogueApplication, database_url: str
) -> None:
    # Given a published item, and the read model as an older version made it (no search_text)
    item_id = publish_gongfang(catalogue, name="校园 VPN")
    with psycopg.connect(database_url) as conn:
        conn.execute("ALTER TABLE catalogue.item_search DROP COLUMN search_text")
    # When an instance of this version starts on it
    other = open_app(database_url)
    try:
        # Then the column is added, filled for the existing rows, and searches work
        assert [s["item_id"] for s in other.search_items("vpn")] == [item_id]
    finally:
        other.close()


def test_the_read_model_follows_new_versions_and_retirement_and_rebuilds_from_events(
    catalogue: CatalogueApplication, database_url: str
) -> None:
    # Given 公房装修改造申请 published, then a draft of version 2 renamed
    item_id = publish_gongfang(catalogue)
    catalogue.revise_item(GZC_EDITOR, item_id, gongfang_draft(name="公房装修改造审批"))
    # Then the search still serves version 1 under its published name
    assert [s["name"] for s in catalogue.search_items("装修")] == ["公房装修改造申请"]
    # When the read model is thrown away and rebuilt from the event store by another instance
    with psycopg.connect(database_url) as conn:
        conn.execute("DELETE FROM catalogue.item_search")
    other = open_app(database_url)
    try:
        assert other.rebuild_search() > 0
        # Then it holds exactly what it held before
        assert read_model(database_url) == [(item_id, "公房装修改造申请", 1)]
        # When the item is retired through the other instance
        other.retire_item(PARTY, item_id)
    finally:
        other.close()
    # Then nobody finds it any more
    assert catalogue.search_items("装修") == []
    assert read_model(database_url) == []


def test_the_service_seeds_the_demo_serves_it_over_rpc_and_publishes_the_full_item(
    processes: ProcessGroup, service_env: dict[str, str]
) -> None:
    # Given a test queue bound to the catalogue's events, and the service started with the demo
    observer = Observer(service_env["AMQP_URI"], "catalogue.events", "test-catalogue-observer")
    processes.start("catalogue", ONETRIP_DEMO="1").wait_for_queue("rpc-catalogue")
    # When the public searches and reads over RPC
    with signed_cluster_rpc(service_env["AMQP_URI"], timeout=20) as rpc:
        found = rpc.catalogue.search_items("装修")
        item = rpc.catalogue.get_item("gongfang-zhuangxiu")
        svg = rpc.catalogue.flowchart_svg("gongfang-zhuangxiu")
        again = rpc.catalogue.seed_demo()
    # Then the demo item is found and read with its materials and flow, seeded once
    assert [s["item_id"] for s in found] == ["gongfang-zhuangxiu"]
    assert [m["name"] for m in item["materials"]] == ["审批表", "改造前结构图", "本次结构设计图"]
    assert "财务处" in svg and "信息化建设与管理处" in svg
    assert again == {"created": []}

    # And item_published reached the bus carrying the whole published item
    def published() -> list[dict[str, Any]]:
        events.extend(observer.drain())
        return [e for e in events if e["type"] == "item_published"]

    events: list[dict[str, Any]] = []
    both = eventually(lambda: len(published()) == 2 and published())
    gongfang = next(e for e in both if e["data"]["item_id"] == "gongfang-zhuangxiu")
    assert gongfang["service"] == "catalogue" and gongfang["actor"] == "party"
    assert gongfang["data"] == item
    assert {e["type"] for e in events} >= {"item_drafted", "item_submitted", "item_reviewed"}


def drafted_items(database_url: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(database_url) as conn:
        return conn.execute(
            "SELECT convert_from(state, 'UTF8')::json->>'item_id', count(*)"
            " FROM catalogue.catalogue_events WHERE topic LIKE %s GROUP BY 1 ORDER BY 1",
            ("%ServiceItem.Drafted",),
        ).fetchall()


def test_two_instances_starting_at_once_seed_the_demo_once(
    processes: ProcessGroup, service_env: dict[str, str]
) -> None:
    # Given two catalogue instances started at the same moment on one database
    first = processes.start("catalogue", label="catalogue-a", ONETRIP_DEMO="1")
    second = processes.start("catalogue", label="catalogue-b", ONETRIP_DEMO="1")
    # When both are up
    first.wait_for_queue("rpc-catalogue")
    eventually(lambda: second.alive() and "catalogue demo items" in second.log(), timeout=30)
    # Then each demo item was drafted exactly once
    assert drafted_items(service_env["DATABASE_URL"]) == [
        ("cheliang-tongxing", 1),
        ("gongfang-zhuangxiu", 1),
        ("wangluo-kaitong", 1),
    ]
