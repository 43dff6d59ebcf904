"""办件 through the public HTTP API: the seed's renovation story, files, roles and ownership."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from services.gateway.models import AccountDraft
from tests.support.accounts import register_account
from tests.support.gateway import Api, is_problem
from tests.support.hall import ITEM, PARALLEL, PDF, PNG, running_hall, upload
from tests.support.processes import ProcessGroup

pytestmark = pytest.mark.integration

def stage_nodes(case: dict[str, Any], index: int) -> dict[str, str]:
    return {node["department"]: node["state"] for node in case["stages"][index]["nodes"]}


def decide(approver: Api, case_id: str, decision: str, comment: str = "") -> dict[str, Any]:
    tasks = approver.get("/api/v1/tasks").json()["tasks"]
    task = next(t for t in tasks if t["case_id"] == case_id)
    reply = approver.post(f"/api/v1/tasks/{task['task_id']}/decision",
                          json={"decision": decision, "comment": comment})
    assert reply.status_code == 200, reply.text
    return reply.json()


def test_the_seed_story_li_applies_is_returned_once_and_approved(hall: Api) -> None:
    teacher = hall.as_user("teacher1")
    approvers = {code: hall.as_user(code) for code in PARALLEL + ["cwc"]}
    before = upload(teacher, "改造前结构图.png", PNG)
    # Given 李老师 applies with one structure drawing missing
    reply = teacher.post("/api/v1/cases", json={
        "item_id": ITEM, "form": {"房间": "航空楼 301", "内容": "更换地面"},
        "materials": {"改造前结构图": before},
    })
    assert reply.status_code == 201, reply.text
    case = reply.json()
    # Then the case is recorded intake_rejected, naming the missing drawing
    assert case["status"] == "intake_rejected"
    assert case["missing_materials"] == ["本次结构设计图"]
    case_id = case["case_id"]
    # When she resubmits complete
    design = upload(teacher, "本次结构设计图.pdf", PDF)
    case = teacher.post(f"/api/v1/cases/{case_id}/resubmit",
                        json={"materials": {"本次结构设计图": design}}).json()
    # Then six parallel nodes are pending
    assert case["status"] == "in_review" and case["round"] == 2
    assert stage_nodes(case, 0) == {code: "pending" for code in PARALLEL}
    # When five approve and 保卫处 returns with a comment
    for code in ["gzc", "jjc", "xxh", "hq", "bmc"]:
        decide(approvers[code], case_id, "approve")
    case = decide(approvers["bwc"], case_id, "return", "请补充消防通道示意图")
    assert case["status"] == "returned"
    assert any(c["comment"] == "请补充消防通道示意图" for c in case["return_comments"])
    # And she resubmits
    case = teacher.post(f"/api/v1/cases/{case_id}/resubmit", json={}).json()
    # Then all six are pending again
    assert case["status"] == "in_review" and case["round"] == 3
    assert stage_nodes(case, 0) == {code: "pending" for code in PARALLEL}
    # When all six approve, then 财务处
    for code in PARALLEL:
        case = decide(approvers[code], case_id, "approve")
    assert stage_nodes(case, 1) == {"cwc": "pending"}
    case = decide(approvers["cwc"], case_id, "approve")
    # Then the case is approved
    assert case["status"] == "approved"
    assert teacher.get(f"/api/v1/cases/{case_id}").json()["status"] == "approved"
    assert approvers["cwc"].get("/api/v1/tasks").json()["tasks"] == [] or all(
        t["case_id"] != case_id for t in approvers["cwc"].get("/api/v1/tasks").json()["tasks"])


def test_roles_and_ownership_of_cases_and_files(hall: Api) -> None:
    teacher, other = hall.as_user("teacher1"), hall.as_user("teacher2")
    gzc, jjc = hall.as_user("gzc"), hall.as_user("jjc")
    drawing = upload(teacher, "改造前结构图.png", PNG)
    design = upload(teacher, "本次结构设计图.pdf", PDF)
    case = teacher.post("/api/v1/cases", json={
        "item_id": ITEM, "form": {"房间": "301"},
        "materials": {"改造前结构图": drawing, "本次结构设计图": design},
    }).json()
    case_id = case["case_id"]
    # Another applicant sees neither the case nor its files
    assert is_problem(other.get(f"/api/v1/cases/{case_id}"), 404)
    assert is_problem(other.get(f"/api/v1/files/{drawing}"), 404)
    # Staff of a department in the case may open the file; its uploader too
    assert gzc.get(f"/api/v1/files/{drawing}").content == PNG
    assert teacher.get(f"/api/v1/files/{design}").content == PDF
    # An approver of another department deciding a node: 403
    gzc_task = next(t for t in gzc.get("/api/v1/tasks").json()["tasks"] if t["case_id"] == case_id)
    assert is_problem(jjc.post(f"/api/v1/tasks/{gzc_task['task_id']}/decision",
                               json={"decision": "approve"}), 403)
    # A return without a comment: 422
    assert is_problem(gzc.post(f"/api/v1/tasks/{gzc_task['task_id']}/decision",
                               json={"decision": "return"}), 422)
    # Deciding twice: 409
    assert gzc.post(f"/api/v1/tasks/{gzc_task['task_id']}/decision",
                    json={"decision": "approve"}).status_code == 200
    assert is_problem(gzc.post(f"/api/v1/tasks/{gzc_task['task_id']}/decision",
                               json={"decision": "approve"}), 409)
    # An applicant has no inbox
    assert is_problem(teacher.get("/api/v1/tasks"), 403)
    # Unknown item: 422
    assert is_problem(teacher.post("/api/v1/cases", json={"item_id": "no-such-item"}), 422)


def test_bad_uploads_are_refused_with_clear_errors(hall: Api, service_env: dict[str, str]) -> None:
    teacher = hall.as_user("teacher1")
    # 25 MB is refused as too large
    assert is_problem(teacher.post("/api/v1/files", files={"file": ("大图.png", PNG + b"\0" * (25 * 1024 * 1024))}), 413)
    # An HTML page named .png is refused: the content decides
    assert is_problem(teacher.post("/api/v1/files", files={"file": ("照片.png", b"<html><script>alert(1)</script></html>")}), 415)
    # A PDF named .png lies about itself
    assert is_problem(teacher.post("/api/v1/files", files={"file": ("照片.png", PDF)}), 415)
    # A path in the name is stripped
    reply = teacher.post("/api/v1/files", files={"file": ("../../etc/申请表.pdf", PDF)})
    assert reply.status_code == 201 and reply.json()["name"] == "申请表.pdf"
    # No file field: 400
    assert is_problem(teacher.post("/api/v1/files", data={"x": "1"}), 400)
    # And nothing refused stays behind in the staging area
    staging = Path(service_env["ONETRIP_FILES_DIR"]) / "staging"
    assert list(staging.iterdir()) == []


def test_a_delegate_sees_and_decides_the_delegating_departments_node(
    hall: Api, service_env: dict[str, str]
) -> None:
    from datetime import datetime, timedelta, timezone

    # 信息化处 has a second approver (a delegation goes only to an approver of the same department)
    register_account(service_env, AccountDraft(
        username="xxh-deputy", name="信息化处副处长", department="xxh", roles=["approver"],
        phone="13900000031"))
    teacher, xxh, deputy, jjc = (hall.as_user(u) for u in ("teacher1", "xxh", "xxh-deputy", "jjc"))
    case = teacher.post("/api/v1/cases", json={"item_id": "wangluo-kaitong", "form": {"账号": "li"}}).json()
    assert case["status"] == "in_review", case
    # Given 信息化处 delegates its decisions to its colleague for three days
    today = datetime.now(timezone(timedelta(hours=8))).date()
    granted = xxh.post("/api/v1/delegations", json={
        "delegate": "xxh-deputy", "starts_on": today.isoformat(),
        "ends_on": (today + timedelta(days=3)).isoformat()})
    assert granted.status_code == 201, granted.text
    # Then the delegate sees the case and its task; another department still does not
    assert deputy.get(f"/api/v1/cases/{case['case_id']}").status_code == 200
    assert is_problem(jjc.get(f"/api/v1/cases/{case['case_id']}"), 404)
    task = next(t for t in deputy.get("/api/v1/tasks").json()["tasks"] if t["case_id"] == case["case_id"])
    # When the delegate approves
    decided = deputy.post(f"/api/v1/tasks/{task['task_id']}/decision", json={"decision": "approve"})
    # Then the decision records both people
    assert decided.status_code == 200, decided.text
    node = decided.json()["stages"][0]["nodes"][0]
    assert (node["decided_by"], node["on_behalf_of"]) == ("xxh-deputy", "xxh")
    assert decided.json()["status"] == "approved"


def test_the_case_list_pages_on_request_and_refuses_nonsense(hall: Api) -> None:
    # Given 李老师 has three campus network cases
    teacher = hall.as_user("teacher1")
    ids = [
        teacher.post("/api/v1/cases", json={"item_id": "wangluo-kaitong", "form": {"申请表": f"第{n}个"}})
        .json()["case_id"]
        for n in range(3)
    ]
    newest_first = ids[::-1]
    # Without paging she gets them all, newest first, with the total
    everything = teacher.get("/api/v1/cases").json()
    assert [c["case_id"] for c in everything["cases"]] == newest_first and everything["total"] == 3
    # A page of two from the second
    page = teacher.get("/api/v1/cases?limit=2&offset=1").json()
    assert [c["case_id"] for c in page["cases"]] == newest_first[1:]
    assert (page["total"], page["limit"], page["offset"]) == (3, 2, 1)
    # Nonsense is a 422 saying what is wrong
    for query in ("limit=abc", "limit=0", "limit=201", "offset=-1", "limit=1.5"):
        assert is_problem(teacher.get(f"/api/v1/cases?{query}"), 422), query


@pytest.fixture
def hall_on_one_connection(processes: ProcessGroup, service_env: dict[str, str]) -> Iterator[Api]:
    """The hall whose gateway keeps a single PostgreSQL connection for file records: whatever one
    request leaves set on it, the next one gets."""
    service_env["ONETRIP_FILES_POOL_SIZE"] = "1"
    yield from running_hall(processes)


def test_reading_a_file_back_leaves_the_pooled_connection_as_it_was(hall_on_one_connection: Api) -> None:
    # Given 李老师 has uploaded both drawings and opened one of them again
    teacher = hall_on_one_connection.as_user("teacher1")
    drawing = upload(teacher, "改造前结构图.png", PNG)
    design = upload(teacher, "本次结构设计图.pdf", PDF)
    assert teacher.get(f"/api/v1/files/{drawing}").content == PNG
    # When she applies citing them, on the connection that served the read
    reply = teacher.post("/api/v1/cases", json={
        "item_id": ITEM, "form": {"房间": "航空楼 301"},
        "materials": {"改造前结构图": drawing, "本次结构设计图": design},
    })
    # Then the case is filed and her files are recognised as hers
    assert reply.status_code == 201, reply.text
    assert reply.json()["status"] == "in_review" and reply.json()["missing_materials"] == []
