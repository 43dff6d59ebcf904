"""The 服务事项清单 as a spreadsheet: the columns of the seed's attachment 1, one sheet per
department, readable by people and read back without loss.

Cells holding lists put one entry per line; the parts of an entry are separated by
`` | `` (a literal ``|``, ``\\`` or line break inside a part is written ``\\|``, ``\\\\``,
``\\n``). Departments are written by their Chinese names (codes are accepted on import).

- 需协调部门和事情: ``基建处 | 审核房屋结构改动的安全性``
- 目标(时间/线上线下): ``2026-12-31 | 线上`` (or just ``线上``)
- 办事材料: ``审批表 | 在线表单 | 必需 | 模板地址 | 备注`` (类型 在线表单/电子文件/纸质材料; 必需/可选)
- 注意事项: one note per line
- 联系人及电话: ``国资处 | 国资处审批员 | 13900000001``
- 跑动次数: 0, 1, 2 (or 一趟不用跑 / 最多跑一趟 / 需跑多趟)
- 流程: one stage per line, ``并行审批 | 全阶段重审 | 国资处:2:s1-gzc; 基建处:2:s1-jjc``
  (node = 部门:时限工作日[:节点编号]; 退回规则 全阶段重审 / 仅退回节点重审)

Import (``sheet_import``) reads every sheet whose first row names the columns (in any
order); row numbers are the spreadsheet's own (the header is row 1).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import Cell
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

from shared.departments import department_code, department_name

SEPARATOR = " | "
# What a spreadsheet program would take for the start of a formula in a cell typed by hand.
FORMULA_STARTS = ("=", "+", "-", "@")

KINDS = {"form": "在线表单", "file": "电子文件", "paper": "纸质材料"}
MODES = {"online": "线上", "offline": "线下"}
TRIPS = {0: "一趟不用跑", 1: "最多跑一趟", 2: "需跑多趟"}
ON_RETURN = {"restart_stage": "全阶段重审", "returning_node_only": "仅退回节点重审"}
REQUIRED = {True: "必需", False: "可选"}


class CellError(ValueError):
    pass


# -- escaping -------------------------------------------------------------------------


def escape(part: Any) -> str:
    text = "" if part is None else str(part)
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", "\\n")


def join_parts(parts: list[Any]) -> str:
    return SEPARATOR.join(escape(part) for part in parts).rstrip()


def split_parts(line: str) -> list[str]:
    parts, current, chars = [], [], iter(line)
    for char in chars:
        if char == "\\":
            following = next(chars, "")
            current.append("\n" if following == "n" else following)
        elif char == "|":
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    parts.append("".join(current).strip())
    return parts


def lines_of(cell: Any) -> list[str]:
    return [line for line in str(cell or "").splitlines() if line.strip()]


def lookup(table: dict[Any, str], text: str, what: str) -> Any:
    reverse = {label: key for key, label in table.items()}
    if text in reverse:
        return reverse[text]
    if text in table:
        return text
    raise CellError(f"无法识别的{what}：{text}（可选：{'、'.join(table.values())}）")


def department(text: str) -> str:
    code = department_code(text)
    if code is None:
        raise CellError(f"未知部门：{text}")
    return code


def parts_of(line: str, count: int, example: str) -> list[str]:
    parts = split_parts(line)
    if len(parts) > count or not parts[0]:
        raise CellError(f"格式应为“{example}”：{line}")
    return parts + [""] * (count - len(parts))


# -- columns --------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    header: str
    width: int
    encode: Callable[[dict[str, Any]], Any]
    decode: Callable[[Any], dict[str, Any]] | None = None
    field: str | None = None  # the item field, to name the column in validation errors


def text_column(header: str, field: str, width: int = 30) -> Column:
    return Column(header, width, lambda item: item[field], lambda cell: {field: text(cell)}, field)


def text(cell: Any) -> str:
    return "" if cell is None else str(cell).strip()


def encode_coordination(item: dict[str, Any]) -> str:
    rows = item["coordination"]
    return "\n".join(join_parts([department_name(c["department"]), c["matter"]]) for c in rows)


def decode_coordination(cell: Any) -> dict[str, Any]:
    entries = []
    for line in lines_of(cell):
        name, matter = parts_of(line, 2, "部门 | 事情")
        entries.append({"department": department(name), "matter": matter})
    return {"coordination": entries}


def encode_target(item: dict[str, Any]) -> str:
    target = item["target"]
    return join_parts([target["date"] or "", MODES[target["mode"]]]).lstrip(" |")


def decode_target(cell: Any) -> dict[str, Any]:
    parts = [part for part in split_parts(text(cell)) if part]
    if not parts:
        return {"target": {"date": None, "mode": "online"}}
    mode = lookup(MODES, parts[-1], "办理方式")
    if len(parts) > 2:
        raise CellError(f"格式应为“2026-12-31 | 线上”：{text(cell)}")
    return {"target": {"date": parts[0] if len(parts) == 2 else None, "mode": mode}}


def encode_materials(item: dict[str, Any]) -> str:
    return "\n".join(
        join_parts(
            [m["name"], KINDS[m["kind"]], REQUIRED[m["required"]], m["template"], m["notes"]]
        )
        for m in item["materials"]
    )


def decode_materials(cell: Any) -> dict[str, Any]:
    materials = []
    for line in lines_of(cell):
        name, kind, required, template, notes = parts_of(
            line, 5, "名称 | 类型 | 必需 | 模板 | 备注"
        )
        materials.append(
            {
                "name": name,
                "kind": lookup(KINDS, kind or "纸质材料", "材料类型"),
                "required": lookup(REQUIRED, required or "必需", "是否必需"),
                "template": template,
                "notes": notes,
            }
        )
    return {"materials": materials}


def encode_notes(item: dict[str, Any]) -> str:
    return "\n".join(escape(note) for note in item["notes"])


def decode_notes(cell: Any) -> dict[str, Any]:
    return {"notes": ["".join(split_parts(line)) for line in lines_of(cell)]}


def encode_contacts(item: dict[str, Any]) -> str:
    return "\n".join(
        join_parts([department_name(c["department"]), c["name"], c["phone"]])
        for c in item["contacts"]
    )


def decode_contacts(cell: Any) -> dict[str, Any]:
    contacts = []
    for line in lines_of(cell):
        name, person, phone = parts_of(line, 3, "部门 | 姓名 | 电话")
        contacts.append({"department": department(name), "name": person, "phone": phone})
    return {"contacts": contacts}


def decode_trips(cell: Any) -> dict[str, Any]:
    value = text(cell)
    if value in {"0", "1", "2"}:
        return {"trips": int(value)}
    return {"trips": lookup(TRIPS, value, "跑动次数")}


def decode_days(cell: Any) -> dict[str, Any]:
    value = text(cell)
    if not value.isdigit():
        raise CellError(f"应为工作日天数（整数）：{value or '空'}")
    return {"time_limit_days": int(value)}


def decode_lead(cell: Any) -> dict[str, Any]:
    value = text(cell)
    return {"lead_department": department(value) if value else None}


def encode_flow(item: dict[str, Any]) -> str:
    return "\n".join(encode_stage(stage) for stage in item["flow"]["stages"])


def encode_stage(stage: dict[str, Any]) -> str:
    nodes = "; ".join(
        f"{department_name(n['department'])}:{n['time_limit_days']}:{n['node_id']}"
        for n in stage["nodes"]
    )
    return join_parts([stage["name"], ON_RETURN[stage["on_return"]], nodes])


def decode_flow(cell: Any) -> dict[str, Any]:
    return {"flow": {"stages": [decode_stage(line) for line in lines_of(cell)]}}


def decode_stage(line: str) -> dict[str, Any]:
    name, on_return, nodes = parts_of(line, 3, "阶段 | 退回规则 | 部门:时限; 部门:时限")
    return {
        "name": name,
        "on_return": lookup(ON_RETURN, on_return or "全阶段重审", "退回规则"),
        "nodes": [decode_node(node) for node in nodes.split(";") if node.strip()],
    }


def decode_node(text_: str) -> dict[str, Any]:
    parts = [part.strip() for part in text_.replace("：", ":").split(":")]
    if len(parts) > 3 or not parts[0]:
        raise CellError(f"节点格式应为“部门:时限[:节点编号]”：{text_.strip()}")
    node: dict[str, Any] = {"department": department(parts[0])}
    if len(parts) > 1 and parts[1]:
        if not parts[1].isdigit():
            raise CellError(f"节点时限应为工作日天数：{text_.strip()}")
        node["time_limit_days"] = int(parts[1])
    if len(parts) > 2 and parts[2]:
        node["node_id"] = parts[2]
    return node


def decode_department(cell: Any) -> dict[str, Any]:
    value = text(cell)
    return {"department": department(value) if value else None}


def decode_item_id(cell: Any) -> dict[str, Any]:
    value = text(cell)
    return {"item_id": value or None}


COLUMNS: list[Column] = [
    Column("序号", 6, lambda item: item["_number"]),
    Column("事项编号", 22, lambda item: item["item_id"], decode_item_id, "item_id"),
    text_column("事项名称", "name", 24),
    Column(
        "所属部门",
        14,
        lambda item: department_name(item["department"]),
        decode_department,
        "department",
    ),
    text_column("事项说明", "description", 40),
    text_column("现状", "current_state", 30),
    Column("需协调部门和事情", 36, encode_coordination, decode_coordination, "coordination"),
    Column("目标(时间/线上线下)", 20, encode_target, decode_target, "target"),
    Column("办事材料", 48, encode_materials, decode_materials, "materials"),
    Column("注意事项", 48, encode_notes, decode_notes, "notes"),
    Column("联系人及电话", 36, encode_contacts, decode_contacts, "contacts"),
    Column("跑动次数", 10, lambda item: item["trips"], decode_trips, "trips"),
    text_column("跑动说明", "one_trip_note", 24),
    Column(
        "承诺时限(工作日)", 12, lambda item: item["time_limit_days"], decode_days, "time_limit_days"
    ),
    Column(
        "主责单位",
        14,
        lambda item: department_name(item["lead_department"] or ""),
        decode_lead,
        "lead_department",
    ),
    Column("流程", 60, encode_flow, decode_flow, "flow"),
    Column("版本", 6, lambda item: item["version"]),
]
HEADERS = [column.header for column in COLUMNS]
HEADER_OF_FIELD: dict[str, str] = {column.field: column.header for column in COLUMNS if column.field}


# -- export -----------------------------------------------------------------------------


def export_workbook(items: list[dict[str, Any]], department: str | None = None) -> bytes:
    """One sheet per department (only ``department``'s when given), named in Chinese."""
    workbook = Workbook()
    workbook.remove(workbook.active)
    departments = [department] if department else sorted({item["department"] for item in items})
    for code in departments:
        rows = [item for item in items if item["department"] == code]
        write_sheet(workbook.create_sheet(department_name(code)[:31]), rows)
    if not departments:
        write_sheet(workbook.create_sheet("服务事项清单"), [])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def write_sheet(sheet: Any, items: list[dict[str, Any]]) -> None:
    sheet.append(HEADERS)
    for number, item in enumerate(items, start=1):
        sheet.append([column.encode({**item, "_number": number}) for column in COLUMNS])
    for index, column in enumerate(COLUMNS, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = column.width
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in sheet.iter_rows(min_row=2):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
            if isinstance(cell.value, str):
                as_text(cell)
    sheet.freeze_panes = "C2"


def as_text(cell: Cell) -> None:
    """An editor's text stays text: never a formula (``=HYPERLINK(...)``), an error code
    (``#N/A``) or a number; one that starts like a formula also gets Excel's quote prefix, so
    editing the cell in a spreadsheet program keeps it text."""
    cell.data_type = "s"
    if cell.value.startswith(FORMULA_STARTS):
        cell.quotePrefix = True
