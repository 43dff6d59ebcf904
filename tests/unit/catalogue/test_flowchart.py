from __future__ import annotations

import re

from services.catalogue.application import CatalogueApplication
from services.catalogue.flowchart import dot_source, render_svg
from shared.departments import DEPARTMENTS
from tests.unit.catalogue.conftest import publish_gongfang


def test_the_flow_chart_of_gongfang_zhuangxiu_names_every_department(
    app: CatalogueApplication,
) -> None:
    # Given 公房装修改造申请 is published with its two stages
    item = app.get_item(publish_gongfang(app))
    # When its flow chart is drawn
    svg = render_svg(item["name"], item["flow"])
    # Then it is an SVG naming the six parallel departments and 财务处, with both stages
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    texts = re.findall(r"<text[^>]*>([^<]*)</text>", svg)
    for code in ("gzc", "jjc", "xxh", "hq", "bwc", "bmc", "cwc"):
        assert DEPARTMENTS[code] in texts
    assert "第1阶段：并行审批" in texts and "第2阶段：经费核算" in texts


def test_stages_are_clusters_laid_out_left_to_right() -> None:
    flow = {
        "stages": [
            {
                "name": '审"核"',
                "on_return": "restart_stage",
                "nodes": [{"node_id": "a", "department": "gzc", "time_limit_days": 2}],
            },
            {
                "name": "核算",
                "on_return": "returning_node_only",
                "nodes": [{"node_id": "b", "department": "cwc", "time_limit_days": 1}],
            },
        ]
    }
    source = dot_source("测试", flow)
    assert "rankdir=LR" in source
    assert source.count("subgraph cluster_") == 2
    assert '审\\"核\\"' in source
    assert "第1阶段" in render_svg("测试", flow)
