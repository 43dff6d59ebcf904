"""The catalogue as a spreadsheet (附件1) from the editor's page, out and back in, and the
supervision report from the dashboard: downloads a person opens in Excel/WPS."""

from __future__ import annotations

import io
from pathlib import Path

from openpyxl import load_workbook
from playwright.sync_api import Page, expect

from tests.e2e.conftest import Person
from tests.support.gateway import Api
from tests.support.hall import ITEM, PNG

NEW_NAME = "实验室搬迁申请"
REVISED_NAME = "公房装修改造申请(2027版)"


def download(page: Page, link: str, tmp_path: Path) -> bytes:
    with page.expect_download() as started:
        page.get_by_role("link", name=link).click()
    saved = tmp_path / started.value.suggested_filename
    started.value.save_as(saved)
    return saved.read_bytes()


def test_gzc_exports_its_catalogue_edits_it_in_a_spreadsheet_and_imports_it_as_drafts(
    person: Person, hall: Api, tmp_path: Path
) -> None:
    # Given 国资处's editor on the editor's page
    editor = person("gzc")
    editor.goto("/editor")

    # When the department's catalogue is exported
    content = download(editor, "导出本部门清单(.xlsx)", tmp_path)

    # Then it is 附件1's table: a sheet named for the department, the renovation item in it
    workbook = load_workbook(io.BytesIO(content))
    sheet = workbook.worksheets[0]
    assert "国有资产管理处" in sheet.title or "国资处" in sheet.title, workbook.sheetnames
    header_row = next(
        row for row in sheet.iter_rows(values_only=False) if row[1].value == "事项编号"
    )
    headers = {cell.value: cell.column - 1 for cell in header_row}
    rows = [row for row in sheet.iter_rows(min_row=header_row[0].row + 1) if row[1].value]
    renovation = next(row for row in rows if row[headers["事项编号"]].value == ITEM)

    # When the editor renames the item, adds a new one like it, and imports the file
    renovation[headers["事项名称"]].value = REVISED_NAME
    new_row = sheet.max_row + 1
    for cell in renovation:
        sheet.cell(row=new_row, column=cell.column, value=cell.value)
    sheet.cell(row=new_row, column=headers["事项编号"] + 1).value = None  # a new item: no id yet
    sheet.cell(row=new_row, column=headers["事项名称"] + 1, value=NEW_NAME)
    edited = tmp_path / "edited.xlsx"
    workbook.save(edited)
    editor.get_by_label("导入清单(按附件1格式,导入为草稿)").set_input_files(str(edited))
    editor.get_by_role("button", name="导入", exact=True).click()

    # Then the page says what became of each row: one new draft, one revision of the item
    expect(editor.locator("h1")).to_have_text("导入结果")
    expect(editor.locator("main")).to_contain_text("新建 1 项,修订已有事项 1 项")
    expect(editor.locator("#revised")).to_contain_text(ITEM)
    editor.locator("#created a").click()
    expect(editor.get_by_label("事项名称")).to_have_value(NEW_NAME)
    editor.goto(f"/editor/items/{ITEM}")
    expect(editor.get_by_label("事项名称")).to_have_value(REVISED_NAME)

    # And the public still sees the published version until the revision is published
    published = hall.get(f"/api/v1/items/{ITEM}").json()
    assert published["name"] == "公房装修改造申请"

    # When a picture is uploaded in the spreadsheet's place
    picture = tmp_path / "catalogue.xlsx"
    picture.write_bytes(PNG)
    editor.goto("/editor")
    editor.get_by_label("导入清单(按附件1格式,导入为草稿)").set_input_files(str(picture))
    editor.get_by_role("button", name="导入", exact=True).click()

    # Then it is refused in Chinese, naming what is accepted, with no trace
    expect(editor.locator("main")).to_contain_text("只接受 .xlsx 电子表格")
    assert "Traceback" not in editor.content()


def test_the_supervisor_downloads_the_report_from_the_dashboard(
    person: Person, hall: Api, tmp_path: Path
) -> None:
    # Given 纪委办公室 on the dashboard
    supervisor = person("discipline")
    supervisor.goto("/supervision")

    # When the report is downloaded
    content = download(supervisor, "下载监督报表(.xlsx)", tmp_path)

    # Then it is the report: the school's measures first, a ranking per measure, the exceptions
    workbook = load_workbook(io.BytesIO(content))
    assert workbook.sheetnames[0] == "全校指标" and workbook.sheetnames[-1] == "跑动多次办件"
    assert len(workbook.sheetnames) > 2, workbook.sheetnames
    school = [row for row in workbook["全校指标"].iter_rows(values_only=True)]
    assert school[0][:3] == ("统计区间", "不限", "不限")
    assert any(row[0] == "最多跑一趟达成率" or "最多跑一趟" in str(row[0]) for row in school), school
