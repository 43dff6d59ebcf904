"""What the pages refuse: a form without its CSRF token, another applicant's case, bad input —
always with a Chinese page, never a stack trace."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.e2e.conftest import Person
from tests.support.gateway import Api, is_problem
from tests.support.hall import ITEM, PDF, PNG, upload

CHINESE_TITLES = re.compile(
    "请求有误|请先登录|无权进行此操作|页面不存在|状态已变化|填写的内容有误|文件"
)


def li_laoshi_case(hall: Api) -> str:
    teacher = hall.as_user("teacher1")
    materials = {
        "改造前结构图": upload(teacher, "改造前结构图.pdf", PDF),
        "本次结构设计图": upload(teacher, "本次结构设计图.png", PNG),
    }
    reply = teacher.post(
        "/api/v1/cases",
        json={
            "item_id": ITEM,
            "form": {"审批表": "A301 实验室隔断改造"},
            "materials": materials,
        },
    )
    assert reply.status_code == 201, reply.text
    return str(reply.json()["case_id"])


def assert_chinese_error(page: Page, status: int) -> None:
    expect(page.locator("h1")).to_have_text(CHINESE_TITLES)
    expect(page.locator(".code")).to_have_text(f"错误代码 {status}")
    assert "Traceback" not in page.content()


def test_a_form_posted_without_its_csrf_token_is_refused(person: Person, hall: Api) -> None:
    # Given 李老师's case in review, and her signed-in browser
    case_id = li_laoshi_case(hall)
    teacher = person("teacher1")

    # When a form is posted to withdraw it without the CSRF token (as another site would)
    refused = teacher.request.post(f"/cases/{case_id}/withdraw", form={})

    # Then it is refused with a Chinese page, and the case is still in review
    assert refused.status == 403
    assert "校验码" in refused.text() and "Traceback" not in refused.text()
    teacher.goto(f"/cases/{case_id}")
    expect(teacher.locator(".case-head .status")).to_have_text("审批中")

    # And a token that is not hers is refused too, while her own page's form works
    forged = teacher.request.post(f"/cases/{case_id}/withdraw", form={"csrf_token": "0" * 64})
    assert forged.status == 403
    teacher.once("dialog", lambda dialog: dialog.accept())
    teacher.get_by_role("button", name="撤回申请").click()
    expect(teacher.locator(".case-head .status")).to_have_text("已撤回")


def test_the_login_form_needs_its_token_and_sets_an_httponly_lax_cookie(person: Person) -> None:
    # Given a visitor's browser
    visitor = person()
    visitor.goto("/login")

    # When the login form is posted without its token
    refused = visitor.request.post(
        "/login", form={"username": "teacher1", "password": "onetrip-demo"}
    )

    # Then it is refused; through the page, the session cookie is HttpOnly and SameSite=Lax
    assert refused.status == 403
    visitor.get_by_label("用户名").fill("teacher1")
    visitor.get_by_label("密码").fill("onetrip-demo")
    visitor.get_by_role("button", name="登录").click()
    expect(visitor).to_have_url(re.compile("/cases$"))
    session = next(c for c in visitor.context.cookies() if c["name"] == "onetrip_session")
    assert session["httpOnly"] and session["sameSite"] == "Lax"


def test_another_applicants_case_page_is_404(person: Person, hall: Api) -> None:
    # Given 李老师's case
    case_id = li_laoshi_case(hall)

    # When 王老师, another applicant, opens its page
    other = person("teacher2")
    response = other.goto(f"/cases/{case_id}")

    # Then it does not exist for him, said in Chinese
    assert response is not None and response.status == 404
    assert_chinese_error(other, 404)
    assert "A301" not in other.content()


def test_bad_input_shows_a_chinese_error_page_never_a_stack_trace(
    person: Person, hall: Api
) -> None:
    # Given 李老师's case, and 保卫处's approver signed in
    case_id = li_laoshi_case(hall)
    bwc = person("bwc")

    # When the pages are given nonsense
    for path, status in [
        ("/?department=nowhere", 422),
        ("/items/" + "x" * 300, 404),
        ("/items/no-such-item", 404),
        ("/items/gongfang-zhuangxiu?version=abc", 422),
        ("/cases/%27%3B%20drop%20table", 404),
        ("/files/not-a-file", 404),
        ("/no/such/page", 404),
        ("/supervision", 403),
    ]:
        response = bwc.goto(path)

        # Then each answers its status with a Chinese page
        assert response is not None and response.status == status, path
        assert_chinese_error(bwc, status)

    # And an unknown address under /api/ stays a problem+json answer for programs
    assert is_problem(hall.get("/api/v1/no-such-thing"), 404)
    assert hall.get("/no/such/page").headers["Content-Type"].startswith("text/html")

    # And a return without a comment is explained, not accepted
    bwc.goto(f"/cases/{case_id}")
    bwc.get_by_role("radio", name="退回修改").check()
    bwc.get_by_role("button", name="提交决定").click()
    assert_chinese_error(bwc, 422)
    expect(bwc.locator("main")).to_contain_text("退回或不予通过时必须填写意见")


def test_an_upload_that_lies_about_its_type_is_refused_on_the_form_and_loses_nothing(
    person: Person, hall: Api
) -> None:
    # Given 李老师 on the renovation item's apply form, the online form filled in
    teacher = person("teacher1")
    teacher.goto(f"/items/{ITEM}/apply")
    teacher.get_by_label(re.compile("^审批表")).fill("A301 实验室隔断改造")
    drawing = teacher.get_by_label(re.compile("^" + re.escape("改造前结构图(上传文件")))
    box = teacher.locator(".material[data-material='改造前结构图']")

    # When she chooses a picture named as a PDF
    drawing.set_input_files({"name": "结构图.pdf", "mimeType": "application/pdf", "buffer": PNG})

    # Then the form says why in Chinese, the material is still missing, her text is kept
    expect(box.locator(".upload-status")).to_contain_text("✗ 上传失败:文件名 结构图.pdf 与文件内容")
    expect(teacher.locator("#missing-summary")).to_contain_text("还缺 2 项必需材料:改造前结构图")
    expect(teacher.get_by_label(re.compile("^审批表"))).to_have_value("A301 实验室隔断改造")

    # When she chooses the real drawing (a larger one, so the upload takes a moment)
    real = PDF + b"%" + b"0" * (3 * 1024 * 1024) + b"\n%%EOF\n"
    drawing.set_input_files({"name": "结构图.pdf", "mimeType": "application/pdf", "buffer": real})

    # Then the progress bar shows the upload through to the end, and the checklist catches up
    bar = teacher.get_by_label("改造前结构图上传进度")
    expect(box.locator(".upload-status")).to_contain_text("✓ 已上传:结构图.pdf", timeout=15_000)
    expect(bar).to_be_visible()
    assert bar.evaluate("bar => bar.value") == 100
    expect(teacher.locator("#missing-summary")).to_contain_text("还缺 1 项必需材料:本次结构设计图")


def test_my_cases_come_twenty_to_a_page_newest_first(person: Person, hall: Api) -> None:
    # Given 李老师 has applied 21 times
    api = hall.as_user("teacher1")
    ids = [
        api.post("/api/v1/cases", json={"item_id": "wangluo-kaitong", "form": {"申请表": f"第{n}次"}})
        .json()["case_id"]
        for n in range(21)
    ]

    # When she opens 我的办件
    teacher = person("teacher1")
    teacher.goto("/cases")

    # Then she sees the twenty newest, the count, and the way to the next page
    cards = teacher.locator("main ul.items > li.card")
    expect(cards).to_have_count(20)
    expect(cards.first.get_by_role("link")).to_have_attribute("href", f"/cases/{ids[-1]}")
    expect(teacher.locator("main")).to_contain_text("共 21 件")
    pager = teacher.get_by_role("navigation", name="办件分页")
    expect(pager).to_contain_text("第 1 / 2 页")
    pager.get_by_role("link", name="下一页").click()

    # And the second page holds the oldest one, with the way back
    expect(cards).to_have_count(1)
    expect(cards.first.get_by_role("link")).to_have_attribute("href", f"/cases/{ids[0]}")
    expect(pager.get_by_role("link", name="上一页")).to_be_visible()

    # And a page number that is not one shows the first page, no error
    teacher.goto("/cases?page=abc")
    expect(cards).to_have_count(20)

    # And a page past the last shows the last one, not "no cases yet"
    teacher.goto("/cases?page=9")
    expect(teacher).to_have_url(re.compile(r"/cases\?page=2$"))
    expect(cards).to_have_count(1)
