"""After the approval: 信息化处 registers the trip a teacher made to its window, the teacher
rates the service badly, 信息化处 rectifies it from the ratings page (asking once to have it
ruled invalid, which 纪委办公室 refuses), and 纪委办公室 records an experience check."""

from __future__ import annotations

from playwright.sync_api import Locator, Page, expect

from tests.e2e.conftest import Person, reload_until
from tests.e2e.test_renovation_story import decide, open_from_inbox
from tests.support.gateway import Api

ITEM_NAME = "校园网账号开通"
TRIP_PURPOSE = "到信息化处服务窗口核对身份证件"


def rating_card(page: Page, attempts: int = 120) -> Locator:
    """The ratings page reads the audit ledger, fed by the case's events: the rating shows up
    within moments."""
    card = page.locator("li.rating").filter(has_text=ITEM_NAME)
    return reload_until(page, "/supervision/ratings", card, attempts)


def test_xxh_records_a_trip_rectifies_a_bad_review_and_discipline_checks_the_item(
    person: Person, hall: Api
) -> None:
    # Given 李老师 applied for a campus network account
    teacher = hall.as_user("teacher1")
    reply = teacher.post(
        "/api/v1/cases",
        json={"item_id": "wangluo-kaitong", "form": {"申请表": "新入职教师,申请开通校园网账号"}},
    )
    assert reply.status_code == 201, reply.text
    case_id = reply.json()["case_id"]

    # When 信息化处 opens the case from its inbox and registers the trip she made to its window
    xxh = person("xxh")
    open_from_inbox(xxh, case_id)
    expect(xxh.locator("#trip-purpose")).to_be_visible()
    xxh.get_by_label("跑动事由").fill(TRIP_PURPOSE)
    xxh.get_by_role("button", name="登记跑动").click()

    # Then the case page confirms it, counts it and shows it in the history
    expect(xxh.get_by_role("status")).to_contain_text("已登记一次现场跑动")
    expect(xxh.locator("form[action$='/trips']")).to_contain_text("已登记 1 次")
    expect(xxh.locator("main")).to_contain_text(TRIP_PURPOSE)

    # And the applicant herself is offered no such form
    li = person("teacher1")
    li.goto(f"/cases/{case_id}")
    expect(li.locator("h1")).to_have_text(ITEM_NAME)
    expect(li.locator("#trip-purpose")).to_have_count(0)

    # When 信息化处 approves it and she rates it 1 point
    decide(xxh, case_id, "通过")
    rated = teacher.post(
        f"/api/v1/cases/{case_id}/rating", json={"score": 1, "comment": "还是跑了一趟窗口"}
    )
    assert rated.status_code == 201, rated.text

    # Then 信息化处 sees the bad review awaiting rectification and starts it
    card = rating_card(xxh)
    expect(card.locator(".rectification-status")).to_have_text("待整改")
    card.get_by_role("button", name="开始整改").click()
    expect(xxh.get_by_role("status")).to_contain_text("整改操作已记录")
    card = rating_card(xxh)
    expect(card.locator(".rectification-status")).to_have_text("整改中")

    # When it asks to have the review ruled invalid
    card.get_by_label("申请理由").fill("已按承诺网上办结,到窗口系申请人自行前往")
    card.get_by_role("button", name="申请认定无效").click()
    expect(rating_card(xxh).locator(".rectification-status")).to_have_text("已申请认定无效")

    # Then 纪委办公室 rules the review valid, and the rectification goes on
    discipline = person("discipline")
    ruling = rating_card(discipline)
    expect(ruling.get_by_role("button", name="认定为无效差评")).to_be_visible()
    ruling.get_by_role("button", name="认定为有效差评").click()
    expect(rating_card(discipline).locator(".rectification-status")).to_have_text("整改中")

    # When 信息化处 completes it with a reply
    card = rating_card(xxh)
    card.get_by_label("整改答复").fill("窗口已张贴网上申请指引,不再要求到现场核对证件")
    card.get_by_role("button", name="整改完成").click()

    # Then it is done, and 信息化处 is offered no ruling
    card = rating_card(xxh)
    expect(card.locator(".rectification-status")).to_have_text("已整改")
    expect(card.get_by_role("button")).to_have_count(0)

    # When 纪委办公室 records an experience check of the item
    rating_card(discipline)
    discipline.get_by_label("服务事项").select_option(label=ITEM_NAME)
    discipline.get_by_label("体验人(教职工或学生)").fill("张同学")
    discipline.get_by_label("实际跑动次数").fill("0")
    discipline.get_by_label("实际耗时(分钟)").fill("15")
    discipline.get_by_label("发现的问题").fill("全程网上办理,短信及时")
    discipline.get_by_role("button", name="记录检查").click()

    # Then the page confirms it and counts the check against the item
    expect(discipline.get_by_role("status")).to_contain_text("体验检查已记录")
    expect(discipline.locator("#checks-title + ul")).to_contain_text(f"{ITEM_NAME}:1 次检查")
