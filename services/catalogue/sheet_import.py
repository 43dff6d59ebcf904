"""The 服务事项清单 read back from a spreadsheet (the columns are ``spreadsheet``'s).

An .xlsx file is a zip archive, and what it unpacks to is what costs. Its members' sizes and
compression ratios are checked from the archive's directory before openpyxl opens it: a
member is never read past its declared size (Python's zipfile stops there and checks the
CRC), and openpyxl walks a sheet that declares no dimension once on opening it, which the
bound keeps to about a second. Rows are then read as plain values, at most ``MAX_ROWS`` that
hold something (and ``MAX_SCANNED_ROWS`` in all, blank ones included); one more stops the
import before any row is parsed, so a sheet of a million rows costs no more than one at the cap.
"""

from __future__ import annotations

import base64
import binascii
import io
import itertools
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException
from pydantic import ValidationError

from services.catalogue.spreadsheet import COLUMNS, HEADER_OF_FIELD, CellError, text
from shared.contracts.catalogue import ItemDraft

MIB = 1024 * 1024
MAX_WORKBOOK_BYTES = 10 * MIB
MAX_UNPACKED_BYTES = 30 * MIB
MAX_MEMBERS = 1_000
MAX_RATIO = 100  # for members that unpack to more than RATIO_FLOOR_BYTES
RATIO_FLOOR_BYTES = MIB
MAX_ROWS = 2_000
MAX_SCANNED_ROWS = 10 * MAX_ROWS
MAX_COLUMNS = 100

# What openpyxl raises for bytes that are not an .xlsx workbook (SyntaxError: broken XML).
NOT_A_WORKBOOK = (
    InvalidFileException,
    zipfile.BadZipFile,
    KeyError,
    IndexError,
    ValueError,
    TypeError,
    OSError,
    SyntaxError,
    EOFError,
)


@dataclass(frozen=True)
class ParsedRow:
    sheet: str
    row: int
    draft: ItemDraft | None
    error: str | None = None


def decode_workbook(content_b64: str) -> bytes:
    if len(content_b64) > MAX_WORKBOOK_BYTES * 4 // 3 + 4:
        raise CellError(f"文件过大（上限 {MAX_WORKBOOK_BYTES // MIB} MB）")
    try:
        return base64.b64decode(content_b64, validate=True)
    except (binascii.Error, ValueError):
        raise CellError("文件内容不是有效的 base64 编码") from None


# -- the archive ------------------------------------------------------------------------------


def check_archive(content: bytes) -> None:
    """Refuses a workbook that would unpack to too much, before anything unpacks it."""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        raise CellError("不是有效的 .xlsx 文件") from None
    if len(members) > MAX_MEMBERS:
        raise CellError(f"不是正常的电子表格：压缩包内有 {len(members)} 个文件")
    unpacked = sum(member.file_size for member in members)
    if unpacked > MAX_UNPACKED_BYTES:
        raise CellError(
            f"表格解压后约 {unpacked // MIB} MB，超过上限 {MAX_UNPACKED_BYTES // MIB} MB，"
            "请拆分后分批导入"
        )
    for member in members:
        if member.file_size > RATIO_FLOOR_BYTES and member.file_size > MAX_RATIO * max(
            member.compress_size, 1
        ):
            raise CellError(
                f"不是正常的电子表格：{member.filename[:100]} 的压缩比超过 {MAX_RATIO} 倍"
                "（疑似压缩炸弹），未导入"
            )


# -- rows ------------------------------------------------------------------------------------


def parse_workbook(content: bytes) -> list[ParsedRow]:
    check_archive(content)
    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except NOT_A_WORKBOOK:
        raise CellError("不是有效的 .xlsx 文件") from None
    try:
        rows = list(itertools.islice(filled_rows(workbook), MAX_ROWS + 1))
    except CellError:
        raise
    except NOT_A_WORKBOOK:
        raise CellError("不是有效的 .xlsx 文件：表格内容无法读取") from None
    finally:
        workbook.close()
    if len(rows) > MAX_ROWS:
        raise CellError(f"一次最多导入 {MAX_ROWS} 行，本表超过此数，请拆分后分批导入")
    return [parse_row(sheet, number, cells) for sheet, number, cells in rows]


def filled_rows(workbook: Any) -> Iterator[tuple[str, int, dict[str, Any]]]:
    """(sheet, row number, cells by header) of each row that holds something, read lazily."""
    scanned = 0
    for sheet in workbook.worksheets:
        rows = sheet.iter_rows(values_only=True, max_col=MAX_COLUMNS)
        header = [text(cell) for cell in next(rows, ())]
        if "事项名称" not in header:
            continue
        for number, values in enumerate(rows, start=2):
            scanned += 1
            if scanned > MAX_SCANNED_ROWS:
                raise CellError(f"表格行数（含空行）超过 {MAX_SCANNED_ROWS} 行，请删去空行或拆分")
            if any(text(value) for value in values):
                yield sheet.title, number, dict(zip(header, values, strict=False))


def parse_row(sheet: str, number: int, cells: dict[str, Any]) -> ParsedRow:
    fields: dict[str, Any] = {}
    try:
        for column in COLUMNS:
            if column.decode is not None and column.header in cells:
                fields.update(column.decode(cells[column.header]))
        draft = ItemDraft.model_validate(fields)
    except CellError as exc:
        return ParsedRow(sheet, number, None, f"{header_for(column.field)}：{exc}")
    except ValidationError as exc:
        return ParsedRow(sheet, number, None, describe(exc))
    return ParsedRow(sheet, number, draft)


def header_for(field: str | None) -> str:
    return HEADER_OF_FIELD.get(field or "", field or "")


def describe(exc: ValidationError) -> str:
    messages = []
    for error in exc.errors():
        where = [header_for(str(error["loc"][0]))] if error["loc"] else []
        where += [
            str(part + 1) if isinstance(part, int) else str(part) for part in error["loc"][1:]
        ]
        message = str(error["msg"]).removeprefix("Value error, ")
        messages.append(f"{'.'.join(where)}：{message}" if where else message)
    return "；".join(messages)
