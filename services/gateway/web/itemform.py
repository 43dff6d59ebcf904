"""The item editor's form, flat HTML fields ⇄ the nested ``ItemDraft`` the API validates.

Rows are numbered: ``material-0-name``, ``stage-1-node-2-department``. Buttons named
``action`` add or remove a stage, a parallel node, a material or a contact, re-showing the
form without saving; ``save``, ``preview`` and ``submit`` validate with ``ItemDraft``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from werkzeug.datastructures import MultiDict

ROW_LIMIT = 50


def blank_item() -> dict[str, Any]:
    return {
        "name": "",
        "description": "",
        "current_state": "",
        "trips": 0,
        "time_limit_days": 10,
        "one_trip_note": "",
        "target": {"mode": "online", "date": None},
        "lead_department": None,
        "materials": [{"name": "", "kind": "file", "required": True, "template": "", "notes": ""}],
        "notes": [],
        "contacts": [],
        "coordination": [],
        "flow": {"stages": [blank_stage("审批")]},
    }


def blank_stage(name: str = "") -> dict[str, Any]:
    return {"name": name, "on_return": "restart_stage", "nodes": [blank_node()]}


def blank_node() -> dict[str, Any]:
    return {"node_id": None, "department": "", "time_limit_days": 2}


def number(text: str) -> int | str:
    text = text.strip()
    return int(text) if text.isdigit() else text


def rows(form: MultiDict[str, str], prefix: str) -> list[int]:
    found = set()
    for key in form:
        head, _, rest = key.partition("-")
        index, _, _ = rest.partition("-")
        if head == prefix and index.isdigit() and int(index) < ROW_LIMIT:
            found.add(int(index))
    return sorted(found)


def item_from_form(form: MultiDict[str, str]) -> dict[str, Any]:
    get = form.get
    return {
        "name": get("name", "").strip(),
        "description": get("description", "").strip(),
        "current_state": get("current_state", "").strip(),
        "trips": number(get("trips", "0")),
        "time_limit_days": number(get("time_limit_days", "")),
        "one_trip_note": get("one_trip_note", "").strip(),
        "target": {"mode": get("target_mode", "online"), "date": get("target_date", "") or None},
        "lead_department": get("lead_department") or None,
        "materials": rows_from(form, "material", MATERIAL),
        "notes": [line.strip() for line in get("notes", "").splitlines() if line.strip()],
        "contacts": rows_from(form, "contact", CONTACT),
        "coordination": rows_from(form, "coordination", COORDINATION),
        "flow": {"stages": [stage_from(form, i) for i in rows(form, "stage")]},
    }


def text(value: str) -> str:
    return value.strip()


def as_sent(value: str) -> str:
    return value


def checked(value: str) -> bool:
    return value == "on"


Fields = dict[str, tuple[Callable[[str], Any], str]]  # field → how it is read, its default
MATERIAL: Fields = {
    "name": (text, ""), "kind": (as_sent, "file"), "required": (checked, ""),
    "template": (text, ""), "notes": (text, ""),
}
CONTACT: Fields = {"department": (as_sent, ""), "name": (text, ""), "phone": (text, "")}
COORDINATION: Fields = {"department": (as_sent, ""), "matter": (text, "")}


def rows_from(form: MultiDict[str, str], prefix: str, fields: Fields) -> list[dict[str, Any]]:
    return [
        {name: read(form.get(f"{prefix}-{i}-{name}", default)) for name, (read, default) in fields.items()}
        for i in rows(form, prefix)
    ]


def stage_from(form: MultiDict[str, str], i: int) -> dict[str, Any]:
    return {
        "name": form.get(f"stage-{i}-name", "").strip(),
        "on_return": form.get(f"stage-{i}-on_return", "restart_stage"),
        "nodes": [node_from(form, i, j) for j in node_rows(form, i)],
    }


def node_rows(form: MultiDict[str, str], stage: int) -> list[int]:
    prefix = f"stage-{stage}-node-"
    found = {
        int(key[len(prefix) :].partition("-")[0])
        for key in form
        if key.startswith(prefix) and key[len(prefix) :].partition("-")[0].isdigit()
    }
    return sorted(index for index in found if index < ROW_LIMIT)


def node_from(form: MultiDict[str, str], i: int, j: int) -> dict[str, Any]:
    return {
        "node_id": form.get(f"stage-{i}-node-{j}-node_id") or None,
        "department": form.get(f"stage-{i}-node-{j}-department", ""),
        "time_limit_days": number(form.get(f"stage-{i}-node-{j}-days", "2")),
    }


# a row is meant when any of these is filled in
MEANT_WHEN = {"materials": ("name",), "contacts": ("name", "phone"), "coordination": ("matter",)}


def meant_stages(stages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {**stage, "nodes": [node for node in stage["nodes"] if node["department"]]}
        for stage in stages
        if stage["name"] or any(node["department"] for node in stage["nodes"])
    ]


def without_blank_rows(item: dict[str, Any]) -> dict[str, Any]:
    """What is sent to be saved: rows left wholly empty are not meant."""
    meant = {
        key: [row for row in item[key] if any(row[field] for field in fields)]
        for key, fields in MEANT_WHEN.items()
    }
    return {**item, **meant, "flow": {"stages": meant_stages(item["flow"]["stages"])}}


def nth(rows: list[dict[str, Any]], at: list[int]) -> dict[str, Any] | None:
    return rows[at[0]] if at and at[0] < len(rows) else None


def add_stage(item: dict[str, Any], at: list[int]) -> bool:
    item["flow"]["stages"].append(blank_stage())
    return True


def add_node(item: dict[str, Any], at: list[int]) -> bool:
    stage = nth(item["flow"]["stages"], at)
    if stage is not None:
        stage["nodes"].append(blank_node())
    return stage is not None


def remove_stage(item: dict[str, Any], at: list[int]) -> bool:
    stage = nth(item["flow"]["stages"], at)
    if stage is not None:
        item["flow"]["stages"].pop(at[0])
    return stage is not None


def remove_node(item: dict[str, Any], at: list[int]) -> bool:
    stage = nth(item["flow"]["stages"], at) if len(at) == 2 else None
    if stage is not None and nth(stage["nodes"], at[1:]) is not None:
        stage["nodes"].pop(at[1])
    return stage is not None


def add_row(key: str, blank: Callable[[], dict[str, Any]]) -> Callable[[dict[str, Any], list[int]], bool]:
    def add(item: dict[str, Any], at: list[int]) -> bool:
        item[key].append(blank())
        return True

    return add


EDITS: dict[str, Callable[[dict[str, Any], list[int]], bool]] = {
    "add_stage": add_stage,
    "add_node": add_node,
    "remove_stage": remove_stage,
    "remove_node": remove_node,
    "add_material": add_row("materials", lambda: blank_item()["materials"][0]),
    "add_contact": add_row("contacts", lambda: {"department": "", "name": "", "phone": ""}),
    "add_coordination": add_row("coordination", lambda: {"department": "", "matter": ""}),
}


def apply_action(item: dict[str, Any], action: str) -> bool:
    """Adds or removes a row for an editing button; False when the action saves instead."""
    verb, _, where = action.partition(":")
    edit = EDITS.get(verb)
    return edit is not None and edit(item, [int(part) for part in where.split(",") if part.isdigit()])
