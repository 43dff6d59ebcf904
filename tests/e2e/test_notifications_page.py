"""我的通知 with the notify service running: an approver hears of a new case, the applicant of
her withdrawal, on the page and by SMS, and each notice leads to its case."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.e2e.conftest import Person, reload_until
from tests.support.gateway import Api
from tests.support.notify import TEACHER1_PHONE, SmsGateway, start_notify
from tests.support.processes import ProcessGroup, eventually

ITEM_NAME = "校园网账号开通"


def notices(page: Page, text: str) -> int:
    """Notify hears the case's events within moments; reload until the notice is listed."""
    return reload_until(page, "/notifications", page.locator("main li.card").filter(has_text=text)).count()


def test_notices_reach_the_approver_and_the_applicant_on_the_page_and_by_sms(
    notify_env: dict[str, str],
    sms: SmsGateway,
    person: Person,
    hall: Api,
    processes: ProcessGroup,
) -> None:
    # Given the whole hall with the notify service (it asks the gateway who is who over RPC)
    gateway = next(p for p in processes.processes if p.target == "gateway")
    gateway.wait_for_queue("rpc-gateway")
    start_notify(processes)

    # And 李老师 applied for a campus network account
    reply = hall.as_user("teacher1").post(
        "/api/v1/cases",
        json={"item_id": "wangluo-kaitong", "form": {"申请表": "新入职教师,申请开通校园网账号"}},
    )
    assert reply.status_code == 201, reply.text
    case_id = reply.json()["case_id"]

    # When 信息化处's approver opens 我的通知
    approver = person("xxh")
    assert notices(approver, case_id) >= 1, approver.locator("main").inner_text()

    # Then the new case is there on the page, as 站内信, and it leads to the case
    notice = approver.locator("main li.card").filter(has_text=case_id).filter(has_text="站内信")
    expect(notice).to_contain_text(f"有新的待审批事项：“{ITEM_NAME}”")
    notice.get_by_role("link", name="查看办件").click()
    expect(approver).to_have_url(f"{hall.base_url}/cases/{case_id}")
    expect(approver.locator(".case-head .status")).to_have_text("审批中")

    # When 李老师 withdraws the case from its page and opens 我的通知
    teacher = person("teacher1")
    teacher.goto(f"/cases/{case_id}")
    teacher.once("dialog", lambda dialog: dialog.accept())
    teacher.get_by_role("button", name="撤回申请").click()
    expect(teacher.locator(".case-head .status")).to_have_text("已撤回")
    assert notices(teacher, f"您已撤回“{ITEM_NAME}”申请（办件号 {case_id}）") >= 1

    # Then she reads it on the page, and the SMS went to her phone and says it was sent
    withdrawn = teacher.locator("main li.card").filter(has_text=case_id).filter(has_text="撤回")
    expect(withdrawn.filter(has_text="站内信")).to_have_count(1)
    texts = eventually(lambda: [m["text"] for m in sms.messages(TEACHER1_PHONE) if case_id in m["text"]])
    assert any("撤回" in text for text in texts), texts
    for _ in range(60):
        if withdrawn.filter(has_text="短信").filter(has_text="已发送").count():
            break
        teacher.wait_for_timeout(250)
        teacher.reload()
    expect(withdrawn.filter(has_text="短信")).to_contain_text("已发送")
    # Her phone number is not shown in full anywhere on the page
    assert TEACHER1_PHONE not in teacher.content()
