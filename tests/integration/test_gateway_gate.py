"""One gate for text and structure at the HTTP door: input no store can hold (NUL, a lone
surrogate, JSON nested without end) is refused with 400/422 before anything is stored, on every
body, path, query and page form. Each case here answered 500, or was accepted and then lost."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.support.gateway import Api, is_problem
from tests.support.hall import ITEM, PDF, PNG, running_hall, upload
from tests.support.processes import ProcessGroup

pytestmark = pytest.mark.integration

NUL = "\u0000"


@pytest.fixture
def hall(processes: ProcessGroup, tmp_path: Path) -> Iterator[Api]:
    """Catalogue, approval, audit and the gateway with the demo data; the audit service first,
    so its ledger hears every event."""
    processes.start("audit", ONETRIP_AUDIT_CHECKPOINT=str(tmp_path / "checkpoint.json"))
    processes.processes[-1].wait_for_queue("rpc-audit")
    yield from running_hall(processes)


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def renovation(teacher: Api, form: dict[str, object]) -> dict[str, object]:
    return {
        "item_id": ITEM,
        "form": form,
        "materials": {
            "改造前结构图": upload(teacher, "改造前结构图.png", PNG),
            "本次结构设计图": upload(teacher, "本次结构设计图.pdf", PDF),
        },
    }


def cases_of(user: Api) -> list[dict[str, object]]:
    reply = user.get("/api/v1/cases")
    assert reply.status_code == 200, reply.text
    return list(reply.json()["cases"])


def test_json_nested_ten_thousand_deep_is_a_malformed_body_everywhere(hall: Api) -> None:
    teacher = hall.as_user("teacher1")
    body = '{"username": ' + nested(10_000) + "}"
    headers = {"Content-Type": "application/json"}
    # When a client sends 10,000 nested brackets to the login, a case and a review
    for user, path in ((hall, "/api/v1/session"), (teacher, "/api/v1/cases"),
                       (hall.as_user("office"), f"/api/v1/items/{ITEM}/review")):
        reply = user.post(path, data=body, headers=headers)
        # Then each answers 400 problem+json saying the body is not acceptable JSON
        assert is_problem(reply, 400), (path, reply.status_code, reply.text[:300])


def test_a_case_form_nested_three_hundred_deep_is_refused_and_nothing_is_filed(hall: Api) -> None:
    # Given 李老师 with both drawings uploaded
    teacher = hall.as_user("teacher1")
    body = renovation(teacher, {"房间": "航空楼 301"})
    deep: object = "隔断"
    for _ in range(300):
        deep = {"下一层": deep}
    body["form"] = {"房间": "航空楼 301", "说明": deep}
    # When she submits a form nested 300 deep
    reply = teacher.post("/api/v1/cases", json=body)
    # Then it is refused as malformed, and she has no case
    assert is_problem(reply, 400), reply.text[:300]
    assert "嵌套" in reply.json()["detail"]
    assert cases_of(teacher) == []


def test_a_form_holding_nul_is_refused_before_approval_or_the_ledger_sees_it(hall: Api) -> None:
    # Given 李老师 with both drawings uploaded
    teacher = hall.as_user("teacher1")
    body = renovation(teacher, {"房间": f"航空楼{NUL}301"})
    # When her form holds a NUL character
    refused = teacher.post("/api/v1/cases", json=body)
    # Then it is refused (it used to be filed, and then could never enter the ledger)
    assert is_problem(refused, 422), refused.text[:300]
    assert "空字符" in refused.json()["detail"]
    # And only her corrected application is filed, and the ledger verifies
    body["form"] = {"房间": "航空楼 301"}
    filed = teacher.post("/api/v1/cases", json=body)
    assert filed.status_code == 201, filed.text
    assert [case["case_id"] for case in cases_of(teacher)] == [filed.json()["case_id"]]
    verified = hall.as_user("discipline").get("/api/v1/audit/verify").json()
    assert verified["ok"] is True


def test_a_lone_surrogate_in_a_case_form_is_refused(hall: Api) -> None:
    teacher = hall.as_user("teacher1")
    body = renovation(teacher, {"房间": "SURROGATE"})
    # When the form's room is a lone surrogate, legal as a JSON escape but not as text
    raw = json.dumps(body).replace('"SURROGATE"', '"\\ud800"')
    reply = teacher.post("/api/v1/cases", data=raw.encode(),
                         headers={"Content-Type": "application/json"})
    # Then it is refused and nothing is filed
    assert reply.status_code in (400, 422) and is_problem(reply, reply.status_code), reply.text
    assert cases_of(teacher) == []


def test_nul_in_a_login_a_search_or_an_address_is_refused(hall: Api) -> None:
    teacher, discipline = hall.as_user("teacher1"), hall.as_user("discipline")
    # A login name with NUL
    assert is_problem(hall.login(f"teacher1{NUL}"), 422)
    # A search for NUL in the public catalogue
    assert is_problem(hall.get("/api/v1/items?q=%00"), 422)
    # A file id, a case id and the audit case id holding NUL
    assert is_problem(teacher.get("/api/v1/files/%00"), 422)
    assert is_problem(teacher.get("/api/v1/cases/abc%00def"), 422)
    assert is_problem(discipline.get("/api/v1/audit/cases/%00"), 422)
    # A header holding NUL, such as an idempotency key a client derived from a form
    assert is_problem(teacher.get("/api/v1/cases", headers={"Idempotency-Key": f"k{NUL}1"}), 422)
    # And the service still answers the same people
    assert teacher.get("/api/v1/items?q=%E8%A3%85%E4%BF%AE").json()["items"][0]["item_id"] == ITEM


def test_a_materials_value_holding_nul_is_refused(hall: Api) -> None:
    teacher = hall.as_user("teacher1")
    body = renovation(teacher, {"房间": "航空楼 301"})
    body["materials"] = {"改造前结构图": NUL, "本次结构设计图": f"x{NUL}"}
    reply = teacher.post("/api/v1/cases", json=body)
    assert is_problem(reply, 422), reply.text[:300]
    assert cases_of(teacher) == []


def test_an_item_named_with_nul_is_refused_and_no_draft_is_left(hall: Api) -> None:
    # Given 国资处's editor
    gzc = hall.as_user("gzc")
    item = gzc.get(f"/api/v1/items/{ITEM}").json()
    draft = {key: item[key] for key in ("description", "materials", "notes", "contacts", "trips",
                                        "time_limit_days", "flow", "coordination", "target")}
    # When she drafts an item whose name holds NUL
    reply = gzc.post("/api/v1/items", json={**draft, "item_id": "nul-item", "name": f"公房{NUL}"})
    # Then it is refused, and there is no such item to draw a flow chart of
    assert is_problem(reply, 422), reply.text[:300]
    assert is_problem(gzc.get("/api/v1/items/nul-item"), 404)
    assert is_problem(gzc.get("/api/v1/items/nul-item/flowchart.svg"), 404)


def test_limit_and_offset_are_whole_numbers_in_ascii_digits(hall: Api) -> None:
    teacher = hall.as_user("teacher1")
    # Digits that str.isdigit() accepts and int() does not
    for query in ("limit=%C2%B2", "offset=%E2%91%A0", "limit=true", "limit=%00"):
        assert is_problem(teacher.get(f"/api/v1/cases?{query}"), 422), query
    assert teacher.get("/api/v1/cases?limit=2&offset=0").status_code == 200


def test_a_score_of_true_is_not_a_score(hall: Api) -> None:
    # Given 李老师's campus network case, approved by 信息化处
    teacher, xxh = hall.as_user("teacher1"), hall.as_user("xxh")
    case = teacher.post("/api/v1/cases", json={"item_id": "wangluo-kaitong", "form": {"账号": "li"}}).json()
    task = next(t for t in xxh.get("/api/v1/tasks").json()["tasks"] if t["case_id"] == case["case_id"])
    decided = xxh.post(f"/api/v1/tasks/{task['task_id']}/decision", json={"decision": "approve"})
    assert decided.json()["status"] == "approved", decided.text
    # When she rates it with `true` (once stored as 1: a bad review opening a rectification)
    refused = teacher.post(f"/api/v1/cases/{case['case_id']}/rating", json={"score": True})
    # Then it is refused and the case is unrated; a real score is taken
    assert is_problem(refused, 422)
    assert teacher.get(f"/api/v1/cases/{case['case_id']}").json()["rating"] is None
    rated = teacher.post(f"/api/v1/cases/{case['case_id']}/rating", json={"score": 5})
    assert rated.status_code == 201 and rated.json()["rating"]["score"] == 5


def test_a_page_form_goes_through_the_same_gate(hall: Api) -> None:
    # Given a visitor's browser session on the login page, with its CSRF token
    browser = requests.Session()
    page = browser.get(hall.base_url + "/login", timeout=30)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    # When the login form is posted with a NUL in the user name
    reply = browser.post(hall.base_url + "/login", timeout=30, allow_redirects=False, data={
        "csrf_token": token.group(1), "username": f"teacher1{NUL}", "password": "onetrip-demo"})
    # Then a Chinese page refuses it, and no session is opened
    assert reply.status_code == 422, reply.text[:500]
    assert "填写的内容有误" in reply.text and "Traceback" not in reply.text
    assert "onetrip_session" not in reply.cookies
