"""The item editor's form, flat HTML fields ⇄ the nested ``ItemDraft`` the API validates.

Rows are numbered: ``material-0-name``, ``stage-1-node-2-department``. Buttons named
``action`` add or remove a stage, a parallel node, a material or a contact, re-showing the
form without saving; ``save``, ``preview`` and ``submit`` validate with ``ItemDraft``.
"""

from __future__ import annotations

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
        "materials": materials_from(form),
        "notes": [line.strip() for line in get("notes", "").splitlines() if line.strip()],
        "contacts": contacts_from(form),
        "coordination": coordination_from(form),
        "flow": {"stages": [stage_from(form, i) for i in rows(form, "stage")]},
    }


def materials_from(form: MultiDict[str, str]) -> list[dict[str, Any]]:
    return [
        {
            "name": form.get(f"material-{i}-name", "").strip(),
            "kind": form.get(f"material-{i}-kind", "file"),
            "required": form.get(f"material-{i}-required") == "on",
            "template": form.get(f"material-{i}-template", "").strip(),
            "notes": form.get(f"material-{i}-notes", "").strip(),
        }
        for i in rows(form, "material")
    ]


def contacts_from(form: MultiDict[str, str]) -> list[dict[str, Any]]:
    return [
        {
            "department": form.get(f"contact-{i}-department", ""),
            "name": form.get(f"contact-{i}-name", "").strip(),
            "phone": form.get(f"contact-{i}-phone", "").strip(),
        }
        for i in rows(form, "contact")
    ]


def coordination_from(form: MultiDict[str, str]) -> list[dict[str, Any]]:
    return [
        {
            "department": form.get(f"coordination-{i}-department", ""),
            "matter": form.get(f"coordination-{i}-matter", "").strip(),
        }
        for i in rows(form, "coordination")
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


def without_blank_rows(item: dict[str, Any]) -> dict[str, Any]:
    """What is sent to be saved: rows left wholly empty are not meant."""
    flow = {
        "stages": [
            {**stage, "nodes": [node for node in stage["nodes"] if node["department"]]}
            for stage in item["flow"]["stages"]
            if stage["name"] or any(node["department"] for node in stage["nodes"])
        ]
    }
    return {
        **item,
        "materials": [m for m in item["materials"] if m["name"]],
        "contacts": [c for c in item["contacts"] if c["name"] or c["phone"]],
        "coordination": [c for c in item["coordination"] if c["matter"]],
        "flow": flow,
    }


def apply_action(item: dict[str, Any], action: str) -> bool:
    """Adds or removes a row for an editing button; False when the action saves instead."""
    verb, _, where = action.partition(":")
    stages = item["flow"]["stages"]
    indexes = [int(part) for part in where.split(",") if part.isdigit()]
    if verb == "add_stage":
        stages.append(blank_stage())
    elif verb == "add_node" and indexes and indexes[0] < len(stages):
        stages[indexes[0]]["nodes"].append(blank_node())
    elif verb == "remove_stage" and indexes and indexes[0] < len(stages):
        stages.pop(indexes[0])
    elif verb == "remove_node" and len(indexes) == 2 and indexes[0] < len(stages):
        nodes = stages[indexes[0]]["nodes"]
        if indexes[1] < len(nodes):
            nodes.pop(indexes[1])
    elif verb == "add_material":
        item["materials"].append(blank_item()["materials"][0])
    elif verb == "add_contact":
        item["contacts"].append({"department": "", "name": "", "phone": ""})
    elif verb == "add_coordination":
        item["coordination"].append({"department": "", "matter": ""})
    else:
        return False
    return True
