"""The catalogue through the public HTTP API: 公房装修改造申请 from draft to version 2,
who may do what, and bad input refused before anything is written."""

from __future__ import annotations

import copy
import io
from typing import Any

import openpyxl
import psycopg
import pytest

from tests.support.gateway import Api, is_problem, start_gateway
from tests.support.processes import ProcessGroup

pytestmark = pytest.mark.integration

PARALLEL = ["gzc", "jjc", "xxh", "hq", "bwc", "bmc"]
SIX_DEPARTMENTS = ["国资处", "基建处", "信息化建设与管理处", "后勤集团", "保卫处", "保密处"]

GONGFANG: dict[str, Any] = {
    "item_id": "gongfang-zhuangxiu",
    "name": "公房装修改造申请",
    "description": "教师个人或单位对公用房进行装修改造,需提交申请并经有关部门审核通过后才可进行。",
    "current_state": "申请人持纸质审批表到七个部门逐个签字盖章。",
    "coordination": [{"department": "jjc", "matter": "审核房屋结构改动的安全性"}],
    "target": {"date": "2026-12-31", "mode": "online"},
    "materials": [
        {"name": "审批表", "kind": "form", "required": True, "notes": "公房装修改造在线流程审批表"},
        {"name": "改造前结构图", "kind": "file", "required": True},
        {"name": "本次结构设计图", "kind": "file", "required": True},
    ],
    "notes": [
        "并行审批节点之一退回修改后,申请人修改重新提交,所有节点均需再审一遍",
        "最终办理成功以收到短信为准。",
    ],
    "contacts": [{"department": "gzc", "name": "国资处审批员", "phone": "13900000001"}],
    "trips": 0,
    "one_trip_note": "全程网上办理,一趟不用跑。",
    "time_limit_days": 10,
    "lead_department": "gzc",
    "flow": {
        "stages": [
            {
                "name": "并行审批",
                "nodes": [{"department": code, "time_limit_days": 2} for code in PARALLEL],
                "on_return": "restart_stage",
            },
            {"name": "经费核算", "nodes": [{"department": "cwc", "time_limit_days": 2}]},
        ]
    },
}


def gongfang(**changes: Any) -> dict[str, Any]:
    draft = copy.deepcopy(GONGFANG)
    draft.update(changes)
    return draft


def start_hall(processes: ProcessGroup) -> Api:
    """The catalogue without demo items (the story drafts its own) and a gateway with the
    demo accounts."""
    processes.start("catalogue", ONETRIP_DEMO="0").wait_for_queue("rpc-catalogue", timeout=60)
    _, api = start_gateway(processes)
    return api


def catalogue_events(database_url: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT count(*) FROM catalogue.catalogue_events").fetchone()
    assert row is not None
    return int(row[0])


def test_gongfang_zhuangxiu_is_drafted_returned_fixed_published_found_and_versioned(
    processes: ProcessGroup,
) -> None:
    public = start_hall(processes)
    editor, office, party = (public.as_user(name) for name in ("gzc", "office", "party"))
    item = "/api/v1/items/gongfang-zhuangxiu"

    # Given 国资处's editor drafts 公房装修改造申请 and submits it
    created = editor.post("/api/v1/items", json=gongfang(time_limit_days=15))
    assert created.status_code == 201, created.text
    assert created.json() == {"item_id": "gongfang-zhuangxiu", "status": "draft"}
    assert editor.post(f"{item}/submit").json() == {"status": "submitted"}

    # When the school office returns it with a comment
    returned = office.post(
        f"{item}/review", json={"decision": "return", "comment": "承诺时限请压缩到10个工作日"}
    )
    # Then the editor sees the comment on the returned draft
    assert returned.json() == {"status": "returned"}
    seen = editor.get(item).json()
    assert seen["status"] == "returned"
    assert seen["review_comment"] == "承诺时限请压缩到10个工作日"

    # When the editor fixes it and resubmits, the office passes it and the party committee publishes
    revised = editor.put(item, json=gongfang(time_limit_days=10))
    assert revised.status_code == 200, revised.text
    assert revised.json()["time_limit_days"] == 10
    assert editor.post(f"{item}/submit").json() == {"status": "submitted"}
    assert office.post(f"{item}/review", json={"decision": "pass", "comment": "同意"}).json() == {
        "status": "reviewed"
    }
    published = party.post(f"{item}/publish")
    assert published.status_code == 200, published.text
    assert published.json() == {"status": "published", "version": 1}

    # Then the public finds it with 装修 and reads its materials and flow
    found = public.get("/api/v1/items", params={"q": "装修"}).json()["items"]
    assert found == [
        {
            "item_id": "gongfang-zhuangxiu",
            "name": "公房装修改造申请",
            "department": "gzc",
            "trips": 0,
            "mode": "online",
            "version": 1,
        }
    ]
    page = public.get(item).json()
    assert page["status"] == "published" and page["version"] == 1
    assert [m["name"] for m in page["materials"]] == ["审批表", "改造前结构图", "本次结构设计图"]
    assert [[n["department"] for n in s["nodes"]] for s in page["flow"]["stages"]] == [
        PARALLEL,
        ["cwc"],
    ]
    # And the flow chart names all six departments of the parallel stage
    chart = public.get(f"{item}/flowchart.svg")
    assert chart.status_code == 200
    assert chart.headers["Content-Type"].startswith("image/svg+xml")
    assert "<svg" in chart.text
    assert [name for name in SIX_DEPARTMENTS if name not in chart.text] == []

    # When the editor changes the description and it goes through again
    editor.put(item, json=gongfang(description="公用房装修改造,网上申请,并行审批。"))
    editor.post(f"{item}/submit")
    office.post(f"{item}/review", json={"decision": "pass", "comment": "同意"})
    second = party.post(f"{item}/publish")
    # Then version 2 is what the public reads, and version 1 stays readable
    assert second.json() == {"status": "published", "version": 2}
    assert public.get(item).json()["description"] == "公用房装修改造,网上申请,并行审批。"
    first = public.get(item, params={"version": 1}).json()
    assert first["version"] == 1
    assert first["description"] == GONGFANG["description"]


def test_every_role_boundary_holds_on_the_server(processes: ProcessGroup) -> None:
    public = start_hall(processes)
    gzc, jjc, teacher, office = (public.as_user(n) for n in ("gzc", "jjc", "teacher1", "office"))
    item = "/api/v1/items/gongfang-zhuangxiu"
    # Given a draft of 国资处
    assert gzc.post("/api/v1/items", json=gongfang()).status_code == 201

    # Then 基建处's editor cannot edit or submit it
    assert is_problem(jjc.put(item, json=gongfang(name="公房装修")), 403)
    assert is_problem(jjc.post(f"{item}/submit"), 403)
    # And an applicant can neither draft, publish, retire nor export the catalogue
    assert is_problem(teacher.post("/api/v1/items", json=gongfang(item_id="zhuangxiu-2")), 403)
    assert is_problem(teacher.post(f"{item}/publish"), 403)
    assert is_problem(teacher.post(f"{item}/retire"), 403)
    assert is_problem(teacher.get("/api/v1/catalogue.xlsx"), 403)
    # And the editor cannot review, the reviewer cannot publish
    assert is_problem(gzc.post(f"{item}/review", json={"decision": "pass", "comment": ""}), 403)
    assert is_problem(office.post(f"{item}/publish"), 403)
    # And nobody anonymous sees the draft, nor another department's editor
    assert is_problem(public.get(item), 404)
    assert is_problem(public.get(f"{item}/flowchart.svg"), 404)
    assert is_problem(jjc.get(item), 404)
    assert gzc.get(item).json()["status"] == "draft"
    # And a bad token is 401, on staff endpoints and on public ones alike
    forged = Api(public.base_url, "eyJhbGciOiJIUzI1NiJ9.e30.forged")
    assert is_problem(forged.post(f"{item}/submit"), 401)
    assert is_problem(forged.get("/api/v1/items"), 401)
    assert is_problem(public.post(f"{item}/submit"), 401)
    # And publishing what was never reviewed is a conflict
    gzc.post(f"{item}/submit")
    assert is_problem(public.as_user("party").post(f"{item}/publish"), 409)


BAD_DRAFTS: dict[str, tuple[Any, str]] = {
    "unknown department": (
        gongfang(flow={"stages": [{"name": "审批", "nodes": [{"department": "xyz"}]}]}),
        "flow.stages.0.nodes.0.department",
    ),
    "empty stage": (
        gongfang(flow={"stages": [{"name": "审批", "nodes": []}]}),
        "flow.stages.0.nodes",
    ),
    "name of 10,000 characters": (gongfang(name="装" * 10_000), "name"),
    "trips as text": (gongfang(trips="one"), "trips"),
    "materials not a list": (gongfang(materials="审批表"), "materials"),
    "time limit as a float string": (gongfang(time_limit_days="10"), "time_limit_days"),
}


def test_bad_input_is_a_4xx_problem_naming_the_field_and_nothing_is_written(
    processes: ProcessGroup, service_env: dict[str, str]
) -> None:
    public = start_hall(processes)
    editor = public.as_user("gzc")
    before = catalogue_events(service_env["DATABASE_URL"])
    # When the editor sends each bad draft
    for case, (draft, field) in BAD_DRAFTS.items():
        response = editor.post("/api/v1/items", json=draft)
        # Then each is a 422 problem naming the field
        assert is_problem(response, 422), (case, response.text)
        assert field in [error["field"] for error in response.json()["errors"]], (
            case,
            response.text,
        )
    # And malformed JSON, a JSON array and an empty body are 400 problems
    for body in ('{"name": "公房装修'.encode(), b"[1, 2]", b"", b"\xff\xfe"):
        sent = editor.post("/api/v1/items", data=body, headers={"Content-Type": "application/json"})
        assert is_problem(sent, 400), sent.text
    # And a body of two megabytes is refused as too large
    huge = editor.post("/api/v1/items", json=gongfang(description="装" * 700_000))
    assert is_problem(huge, 413), huge.text
    # And nothing was written
    assert catalogue_events(service_env["DATABASE_URL"]) == before
    assert public.get("/api/v1/items").json() == {"items": []}
    # And odd queries and paths answer problem+json too
    assert is_problem(public.get("/api/v1/items/x", params={"version": "abc"}), 422)
    assert is_problem(public.get("/api/v1/items/" + "x" * 300), 404)
    assert is_problem(public.get("/api/v1/no-such-thing"), 404)
    assert is_problem(public.request("DELETE", "/api/v1/items"), 405)
    login = public.post("/api/v1/session", json={"username": 42, "password": ["x"]})
    assert is_problem(login, 422)
    assert {e["field"] for e in login.json()["errors"]} == {"username", "password"}


def test_staff_export_the_catalogue_and_an_editor_imports_it_back_as_drafts(
    processes: ProcessGroup,
) -> None:
    public = start_hall(processes)
    gzc, office, party = (public.as_user(n) for n in ("gzc", "office", "party"))
    # Given 公房装修改造申请 published
    gzc.post("/api/v1/items", json=gongfang())
    gzc.post("/api/v1/items/gongfang-zhuangxiu/submit")
    office.post("/api/v1/items/gongfang-zhuangxiu/review", json={"decision": "pass", "comment": ""})
    assert party.post("/api/v1/items/gongfang-zhuangxiu/publish").status_code == 200
    # When the school office exports 国资处's sheet
    exported = office.get("/api/v1/catalogue.xlsx", params={"department": "gzc"})
    # Then it is a spreadsheet naming the item
    assert exported.status_code == 200, exported.text
    assert exported.headers["Content-Type"].startswith("application/vnd.openxmlformats")
    sheet_text = [
        str(cell)
        for ws in openpyxl.load_workbook(io.BytesIO(exported.content)).worksheets
        for row in ws.iter_rows(values_only=True)
        for cell in row
        if cell is not None
    ]
    assert "公房装修改造申请" in sheet_text
    # When 国资处's editor imports it back
    imported = gzc.post("/api/v1/catalogue.xlsx", files={"file": ("清单.xlsx", exported.content)})
    # Then the row comes back as the next draft of the same item, with the same content
    assert imported.status_code == 200, imported.text
    result = imported.json()
    assert (result["created"], result["revised"], result["errors"]) == (
        ["gongfang-zhuangxiu"],
        ["gongfang-zhuangxiu"],
        [],
    )
    draft = gzc.get("/api/v1/items/gongfang-zhuangxiu").json()
    assert draft["status"] == "draft"
    published = public.get("/api/v1/items/gongfang-zhuangxiu").json()
    for field in ("name", "description", "materials", "flow", "trips", "time_limit_days"):
        assert draft[field] == published[field], field
    # And a file that is not a spreadsheet is refused for its content, whatever its name
    fake = gzc.post("/api/v1/catalogue.xlsx", files={"file": ("清单.xlsx", b"name,trips\n")})
    assert is_problem(fake, 415)
    assert is_problem(gzc.post("/api/v1/catalogue.xlsx", data={"x": "1"}), 400)
