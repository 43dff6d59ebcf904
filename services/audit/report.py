"""``report.xlsx``: one sheet per measure with departments ranked, and the multi-trip exceptions."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.worksheet.worksheet import Worksheet

from shared.departments import department_name

BOLD = Font(bold=True)

# measure → (sheet title, higher is better)
MEASURES: dict[str, tuple[str, bool]] = {
    "one_trip_rate": ("最多跑一趟比例", True),
    "trips_per_case": ("平均跑动次数", False),
    "median_hours": ("办结时长中位数(小时)", False),
    "returns": ("退回次数", False),
    "overdue": ("超期节点", False),
    "rating_avg": ("平均评分", True),
    "bad_reviews": ("差评数", False),
    "open_rectifications": ("未完成整改", False),
    "cases": ("办件量", True),
}
SCHOOL_MEASURES: dict[str, str] = {
    "online_rate": "可网办事项比例",
    "zero_trip_rate": "零跑动比例",
    "one_trip_rate": "最多跑一趟比例",
    "deadline_compliance": "按期办结率",
    "good_rating_rate": "好评率",
    "cases": "办件量",
    "closed": "办结量",
    "bad_reviews": "差评数",
    "open_rectifications": "未完成整改",
}


def report_workbook(
    from_: str | None,
    to: str | None,
    departments: list[dict[str, Any]],
    measures: dict[str, Any],
    exceptions: list[dict[str, Any]],
) -> bytes:
    book = Workbook()
    _school_sheet(book.active, from_, to, measures)
    for measure, (title, higher_is_better) in MEASURES.items():
        _ranking_sheet(book.create_sheet(title), measure, departments, higher_is_better)
    _exceptions_sheet(book.create_sheet("跑动多次办件"), exceptions)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _school_sheet(
    sheet: Worksheet, from_: str | None, to: str | None, measures: dict[str, Any]
) -> None:
    sheet.title = "全校指标"
    sheet.append(["统计区间", from_ or "不限", to or "不限"])
    _header(sheet, ["指标", "数值"])
    for key, title in SCHOOL_MEASURES.items():
        sheet.append([title, measures.get(key)])


def _ranking_sheet(
    sheet: Worksheet, measure: str, departments: list[dict[str, Any]], higher_is_better: bool
) -> None:
    _header(sheet, ["排名", "部门代码", "部门", MEASURES[measure][0], "办件量"])
    present = [d for d in departments if d[measure] is not None]
    ranked = sorted(present, key=_ranking_key(measure, higher_is_better))
    for rank, department in enumerate(ranked, start=1):
        code = department["department"]
        sheet.append([rank, code, department_name(code), department[measure], department["cases"]])
    for department in departments:
        if department[measure] is None:
            code = department["department"]
            sheet.append(["—", code, department_name(code), None, department["cases"]])


def _ranking_key(
    measure: str, higher_is_better: bool
) -> Callable[[dict[str, Any]], tuple[float, str]]:
    def key(department: dict[str, Any]) -> tuple[float, str]:
        value = float(department[measure])
        return (-value if higher_is_better else value, department["department"])

    return key


def _exceptions_sheet(sheet: Worksheet, exceptions: list[dict[str, Any]]) -> None:
    _header(sheet, ["办件编号", "事项", "主责部门", "跑动次数", "状态", "提交时间", "办结时间"])
    for facts in sorted(exceptions, key=lambda f: (-f["trips"], f["case_id"])):
        sheet.append(
            [
                facts["case_id"],
                facts["item_id"],
                department_name(facts["department"] or ""),
                facts["trips"],
                facts["status"],
                facts["submitted_at"],
                facts["closed_at"],
            ]
        )


def _header(sheet: Worksheet, titles: list[str]) -> None:
    sheet.append(titles)
    for cell in sheet[sheet.max_row]:
        cell.font = BOLD
