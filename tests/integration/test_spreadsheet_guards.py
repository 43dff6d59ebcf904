"""The 服务事项清单 spreadsheet over HTTP: a formula an editor typed goes out as text, and a
sheet too large to import is refused quickly with a Chinese problem."""

from __future__ import annotations

import io
import time

import openpyxl
import pytest

from tests.integration.test_gateway_catalogue import catalogue_events, gongfang, start_hall
from tests.support.gateway import is_problem
from tests.support.processes import ProcessGroup
from tests.unit.catalogue.test_sheet_guards import many_rows_sheet, workbook_with_sheet, zip_bomb

pytestmark = pytest.mark.integration

HYPERLINK = '=HYPERLINK("http://evil.example/","点此下载模板")'


def test_a_formula_typed_by_an_editor_is_exported_as_text_and_bombs_are_refused(
    processes: ProcessGroup,
) -> None:
    # Given 公房装修改造申请 published with a description that is a formula
    public = start_hall(processes)
    gzc, office, party = (public.as_user(n) for n in ("gzc", "office", "party"))
    assert gzc.post("/api/v1/items", json=gongfang(description=HYPERLINK)).status_code == 201
    gzc.post("/api/v1/items/gongfang-zhuangxiu/submit")
    office.post("/api/v1/items/gongfang-zhuangxiu/review", json={"decision": "pass", "comment": ""})
    assert party.post("/api/v1/items/gongfang-zhuangxiu/publish").status_code == 200

    # When the school office exports 国资处's sheet
    exported = office.get("/api/v1/catalogue.xlsx", params={"department": "gzc"})

    # Then the description is a text cell, not a formula
    sheet = openpyxl.load_workbook(io.BytesIO(exported.content))["国资处"]
    cell = next(c for row in sheet.iter_rows() for c in row if c.value == HYPERLINK)
    assert cell.data_type == "s"

    # When 国资处's editor imports a sheet of 50,000 rows, and a zip bomb
    events_before = catalogue_events(processes.env["DATABASE_URL"])
    started = time.monotonic()
    many = gzc.post(
        "/api/v1/catalogue.xlsx",
        files={"file": ("清单.xlsx", workbook_with_sheet(many_rows_sheet(50_000)))},
    )
    bomb = gzc.post("/api/v1/catalogue.xlsx", files={"file": ("清单.xlsx", zip_bomb(40 * 2**20))})

    # Then both are 422 saying why in Chinese, soon, and nothing was drafted
    assert is_problem(many, 422) and "一次最多导入 2000 行" in many.json()["detail"]
    assert is_problem(bomb, 422) and "超过上限 30 MB" in bomb.json()["detail"]
    assert time.monotonic() - started < 30
    assert catalogue_events(processes.env["DATABASE_URL"]) == events_before
