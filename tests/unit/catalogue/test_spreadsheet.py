"""The 服务事项清单 out to a spreadsheet and back in as drafts."""

from __future__ import annotations

import io
from typing import Any

from openpyxl import Workbook, load_workbook

from services.catalogue.application import CatalogueApplication
from services.catalogue.demo import seed_demo
from services.catalogue.sheet_import import parse_workbook
from services.catalogue.spreadsheet import HEADERS, export_workbook
from tests.unit.catalogue.conftest import GZC_EDITOR, publish_gongfang

CONTENT_FIELDS = (
    "name",
    "description",
    "current_state",
    "coordination",
    "target",
    "materials",
    "notes",
    "contacts",
    "trips",
    "one_trip_note",
    "time_limit_days",
    "lead_department",
    "flow",
)


def content(item: dict[str, Any]) -> dict[str, Any]:
    return {field: item[field] for field in CONTENT_FIELDS}


def new_app() -> CatalogueApplication:
    return CatalogueApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})


def test_an_exported_catalogue_imports_back_as_drafts_of_the_same_items(
    app: CatalogueApplication,
) -> None:
    # Given 国资处 publishes 公房装修改造申请 and a second item with a note holding a "|"
    publish_gongfang(app)
    publish_gongfang(
        app,
        item_id="gongfang-tiaopei",
        name="公房调配申请",
        notes=["第一行\n第二行 | 含竖线 \\ 与反斜杠"],
        target={"mode": "offline"},
    )
    exported = export_workbook(app.published_items("gzc"), "gzc")
    # When an editor of 国资处 imports the sheet into an empty catalogue
    other = new_app()
    result = other.import_drafts(GZC_EDITOR, parse_workbook(exported))
    # Then both items exist as drafts with exactly the exported content
    assert sorted(result["created"]) == ["gongfang-tiaopei", "gongfang-zhuangxiu"]
    assert result["errors"] == []
    for item_id in result["created"]:
        draft = other.get_item(item_id, viewer=GZC_EDITOR)
        assert draft["status"] == "draft"
        assert content(draft) == content(app.get_item(item_id))


def test_importing_into_the_same_catalogue_drafts_the_next_version(
    app: CatalogueApplication,
) -> None:
    # Given 公房装修改造申请 is published and exported
    item_id = publish_gongfang(app)
    exported = export_workbook(app.published_items("gzc"), "gzc")
    # When the sheet is imported back
    result = app.import_drafts(GZC_EDITOR, parse_workbook(exported))
    # Then the item gets a draft of version 2 and version 1 stays public
    assert (result["created"], result["revised"]) == ([item_id], [item_id])
    assert app.get_item(item_id, viewer=GZC_EDITOR)["version"] == 2
    assert app.get_item(item_id)["version"] == 1


def test_the_sheet_has_the_seed_columns_and_one_sheet_per_department(
    app: CatalogueApplication,
) -> None:
    # Given the demo catalogue
    seed_demo(app)
    # When everything is exported
    workbook = load_workbook(io.BytesIO(export_workbook(app.published_items())))
    # Then each publishing department has its own sheet with the attachment-1 columns
    assert workbook.sheetnames == ["国资处", "信息化建设与管理处"]
    header = [cell.value for cell in workbook["国资处"][1]]
    for column in (
        "序号",
        "事项名称",
        "事项说明",
        "现状",
        "需协调部门和事情",
        "目标(时间/线上线下)",
        "办事材料",
        "注意事项",
        "联系人及电话",
        "跑动次数",
        "承诺时限(工作日)",
        "流程",
    ):
        assert column in header
    row = dict(zip(header, [cell.value for cell in workbook["国资处"][2]], strict=True))
    assert row["事项名称"] == "公房装修改造申请"
    assert (
        row["办事材料"].splitlines()[0]
        == "审批表 | 在线表单 | 必需 |  | 公房装修改造在线流程审批表"
    )


def sheet_with(rows: list[dict[str, Any]]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "国资处"
    sheet.append(HEADERS)
    for row in rows:
        sheet.append([row.get(header) for header in HEADERS])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def good_row(name: str) -> dict[str, Any]:
    return {
        "事项名称": name,
        "事项说明": "由国资处受理",
        "目标(时间/线上线下)": "线上",
        "办事材料": "申请表 | 在线表单 | 必需",
        "跑动次数": "最多跑一趟",
        "承诺时限(工作日)": 5,
        "流程": "国资处审批 | 全阶段重审 | 国资处:2",
    }


def test_a_sheet_with_three_bad_rows_reports_exactly_those_rows(app: CatalogueApplication) -> None:
    # Given a sheet whose rows 3, 5 and 6 are bad: an unknown department in the flow,
    # an empty name, a stage without nodes
    sheet = sheet_with(
        [
            good_row("公房借用申请"),
            {**good_row("公房出租申请"), "流程": "审批 | 全阶段重审 | 火星处:2"},
            good_row("公房退还申请"),
            {**good_row(""), "事项说明": "没有名称"},
            {**good_row("资产报废申请"), "流程": "审批 | 全阶段重审 | "},
            good_row("资产调拨申请"),
        ]
    )
    # When an editor of 国资处 imports it
    result = app.import_drafts(GZC_EDITOR, parse_workbook(sheet))
    # Then exactly rows 3, 5 and 6 are reported, each with its reason
    errors = {error["row"]: error["detail"] for error in result["errors"]}
    assert sorted(errors) == [3, 5, 6]
    assert "未知部门：火星处" in errors[3]
    assert errors[5].startswith("事项名称")
    assert "阶段不能为空" in errors[6]
    # And the three good rows, and only those, became drafts of 国资处
    names = sorted(app.get_item(i, viewer=GZC_EDITOR)["name"] for i in result["created"])
    assert names == ["公房借用申请", "公房退还申请", "资产调拨申请"]
    assert len(app.recorder.select_notifications(start=None, limit=100)) == 3
