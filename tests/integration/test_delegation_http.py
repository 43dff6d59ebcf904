"""委托 through the public API: to whom a decision may be delegated, and who then decides what."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest

from services.approval.application import ApprovalApplication
from services.gateway.models import AccountDraft
from shared.config import Settings
from shared.eventstore import application_env
from tests.support.accounts import register_account
from tests.support.gateway import Api, is_problem
from tests.support.hall import ITEM, PDF, PNG, upload

pytestmark = pytest.mark.integration


def today() -> date:
    return datetime.now(timezone(timedelta(hours=8))).date()


def for_three_days(delegate: str) -> dict[str, str]:
    return {"delegate": delegate, "starts_on": today().isoformat(),
            "ends_on": (today() + timedelta(days=3)).isoformat()}


def staff(username: str, name: str, department: str, *roles: str, phone: str) -> AccountDraft:
    return AccountDraft(username=username, name=name, department=department, roles=list(roles), phone=phone)


def delegated_before_the_rule(service_env: dict[str, str], delegator: str, delegate: str) -> None:
    """A delegation an older release accepted (to anyone), as it lies in a store kept since."""
    settings = Settings(amqp_uri=service_env["AMQP_URI"], database_url=service_env["DATABASE_URL"])
    approval = ApprovalApplication(env=application_env("approval", settings))
    try:
        approval.delegate(delegator=delegator, department=delegator, delegate=delegate,
                          starts_on=today(), ends_on=today() + timedelta(days=3))
    finally:
        approval.close()


def renovation_case(applicant: Api) -> dict[str, Any]:
    drawings = {"改造前结构图": upload(applicant, "改造前结构图.png", PNG),
                "本次结构设计图": upload(applicant, "本次结构设计图.pdf", PDF)}
    reply = applicant.post("/api/v1/cases", json={
        "item_id": ITEM, "form": {"房间": "航空楼 301"}, "materials": drawings})
    assert reply.status_code == 201, reply.text
    case: dict[str, Any] = reply.json()
    assert case["status"] == "in_review", case
    return case


def task_of(case: dict[str, Any], department: str) -> str:
    node = next(n for stage in case["stages"] for n in stage["nodes"] if n["department"] == department)
    return str(node["task_id"])


def decide(user: Api, task_id: str) -> Any:
    return user.post(f"/api/v1/tasks/{task_id}/decision", json={"decision": "approve", "comment": "同意"})


def test_a_delegation_goes_only_to_an_approver_of_the_same_department(
    hall: Api, service_env: dict[str, str]
) -> None:
    # Given 国资处 has a second approver
    register_account(service_env, staff("gzc-deputy", "国资处副处长", "gzc", "approver", phone="13900000021"))
    gzc, teacher = hall.as_user("gzc"), hall.as_user("teacher1")
    # When 国资处's approver delegates to a student, to 基建处's approver, to nobody, to themself
    refused = {who: gzc.post("/api/v1/delegations", json=for_three_days(who))
               for who in ("student1", "jjc", "no-such-user", "gzc")}
    # Then each is refused with a reason in Chinese (422)
    for who, reply in refused.items():
        assert is_problem(reply, 422), (who, reply.text)
    assert "本部门" in refused["student1"].json()["detail"]
    assert "本部门" in refused["jjc"].json()["detail"]
    assert "自己" in refused["gzc"].json()["detail"]
    # And an applicant may not delegate at all (403)
    assert is_problem(teacher.post("/api/v1/delegations", json=for_three_days("student1")), 403)
    # But a colleague approving for 国资处 is accepted
    granted = gzc.post("/api/v1/delegations", json=for_three_days("gzc-deputy"))
    assert granted.status_code == 201, granted.text
    assert granted.json()["department"] == "gzc"


def test_nobody_decides_a_node_of_their_own_case(hall: Api, service_env: dict[str, str]) -> None:
    # Given 国资处's 周老师, an approver there, applies for her own office's renovation
    register_account(service_env, staff("gzc-zhou", "周老师", "gzc", "applicant", "approver",
                                        phone="13900000022"))
    # And a store that kept 国资处's delegation to 张同学 from before the rule, and her case
    delegated_before_the_rule(service_env, "gzc", "student1")
    zhou, student, gzc = (hall.as_user(u) for u in ("gzc-zhou", "student1", "gzc"))
    hers, students = renovation_case(zhou), renovation_case(student)
    # Then neither finds her own case in her inbox
    assert all(t["case_id"] != hers["case_id"] for t in zhou.get("/api/v1/tasks").json()["tasks"])
    assert all(t["case_id"] != students["case_id"] for t in student.get("/api/v1/tasks").json()["tasks"])
    # And neither may approve 国资处's node of her own case (403, saying why)
    for applicant, case in ((zhou, hers), (student, students)):
        reply = decide(applicant, task_of(case, "gzc"))
        assert is_problem(reply, 403), reply.text
        assert "自己申请" in reply.json()["detail"]
    # While 国资处's other approver decides both
    for case in (hers, students):
        assert decide(gzc, task_of(case, "gzc")).status_code == 200


def test_a_delegate_decides_only_the_delegated_nodes(hall: Api, service_env: dict[str, str]) -> None:
    # Given 基建处's editor (no approver) holds 国资处's delegation, kept from before the rule
    register_account(service_env, staff("jjc-editor", "基建处编辑", "jjc", "editor", phone="13900000023"))
    delegated_before_the_rule(service_env, "gzc", "jjc-editor")
    editor = hall.as_user("jjc-editor")
    case = renovation_case(hall.as_user("teacher1"))
    # Then the inbox shows 国资处's node and not 基建处's own
    tasks = [t for t in editor.get("/api/v1/tasks").json()["tasks"] if t["case_id"] == case["case_id"]]
    assert [t["department"] for t in tasks] == ["gzc"]
    # And deciding 基建处's own node is forbidden: the delegation does not make them an approver
    reply = decide(editor, task_of(case, "jjc"))
    assert is_problem(reply, 403), reply.text
    # While 国资处's node is decided on 国资处's behalf
    decided = decide(editor, task_of(case, "gzc"))
    assert decided.status_code == 200, decided.text
    node = next(n for n in decided.json()["stages"][0]["nodes"] if n["department"] == "gzc")
    assert (node["decided_by"], node["on_behalf_of"]) == ("jjc-editor", "gzc")
    jjc_node = next(n for n in decided.json()["stages"][0]["nodes"] if n["department"] == "jjc")
    assert jjc_node["state"] == "pending"
