"""The seed's example, 公房装修改造申请, walked entirely through the hall's pages by the people
who do it: 李老师 applies with her drawings, six departments decide in parallel and 保卫处
returns it, she resubmits, all approve, 财务处 approves, and 纪委办公室 replays the case as
of the return."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.e2e.conftest import SCREENSHOTS, Person, reload_until
from tests.support.hall import PARALLEL, PDF, PNG

ITEM_NAME = "公房装修改造申请"
RETURN_COMMENT = "施工期间消防通道须保持畅通,请在设计图中标明消防通道"
WIDTHS = (1280, 375)


def shoot(page: Page, name: str) -> None:
    """The page as a desk and as a phone see it, into docs/screenshots/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})


def upload(page: Page, material: str, name: str, content: bytes, mime: str) -> None:
    page.get_by_label(re.compile("^" + re.escape(f"{material}(上传文件"))).set_input_files(
        {"name": name, "mimeType": mime, "buffer": content}
    )
    box = page.locator(f".material[data-material='{material}']")
    expect(box.locator(".upload-status")).to_contain_text(f"已上传:{name}", timeout=15_000)


def open_from_inbox(page: Page, case_id: str, attempts: int = 60) -> None:
    """The inbox is a read model fed by the case's events: a new task shows up within moments."""
    reload_until(page, "/inbox", page.locator(f"a[href='/cases/{case_id}']"), attempts).click()


def decide(page: Page, case_id: str, decision: str, comment: str = "") -> None:
    """From the department's inbox to the case, then the decision with its comment."""
    open_from_inbox(page, case_id)
    page.get_by_role("radio", name=decision, exact=True).check()
    if comment:
        page.get_by_label(re.compile("^意见")).fill(comment)
    page.get_by_role("button", name="提交决定").click()
    expect(page.get_by_role("status")).to_contain_text("审批决定已提交")


def test_li_laoshi_applies_bwc_returns_she_resubmits_all_approve_and_the_return_replays(
    person: Person,
) -> None:
    # Given the public catalogue, searched for 装修 by a visitor who has not logged in
    visitor = person()
    visitor.goto("/")
    visitor.get_by_label("搜索事项").fill("装修")
    visitor.get_by_role("button", name="搜索").click()
    expect(visitor.get_by_role("link", name=ITEM_NAME)).to_be_visible()
    expect(visitor.get_by_role("link", name="校园网账号开通")).to_have_count(0)
    visitor.goto("/?department=xxh")
    expect(visitor.get_by_role("link", name="校园网账号开通")).to_be_visible()
    visitor.goto("/")
    shoot(visitor, "catalogue")

    # And the item's page: materials, notes, contacts, the flow chart and the 一趟不用跑 badge
    visitor.get_by_role("link", name=ITEM_NAME).click()
    expect(visitor.locator(".badge")).to_have_text("一趟不用跑")
    expect(visitor.get_by_role("cell", name="改造前结构图")).to_be_visible()
    expect(visitor.get_by_text("所有节点均需再审一遍")).to_be_visible()
    expect(visitor.locator(".contacts li")).to_have_count(7)
    chart = visitor.locator("figure.chart img")
    expect(chart).to_have_attribute("src", "/api/v1/items/gongfang-zhuangxiu/flowchart.svg")
    visitor.wait_for_function("() => document.querySelector('figure.chart img').naturalWidth > 0")
    shoot(visitor, "item")

    # When 李老师 fills the online form and uploads both drawings, the checklist catching up
    teacher = person("teacher1")
    teacher.goto("/items/gongfang-zhuangxiu/apply")
    expect(teacher.locator("#missing-summary")).to_contain_text("还缺 3 项必需材料")
    teacher.get_by_label(re.compile("^审批表")).fill(
        "航空学院 A301 实验室隔断改造,2026年寒假施工,联系电话 13800000001"
    )
    upload(teacher, "改造前结构图", "改造前结构图.pdf", PDF, "application/pdf")
    expect(teacher.locator("#missing-summary")).to_contain_text("还缺 1 项必需材料:本次结构设计图")
    upload(teacher, "本次结构设计图", "本次结构设计图.png", PNG, "image/png")
    expect(teacher.locator("#missing-summary")).to_have_text("必需材料已备齐,可以提交。")
    shoot(teacher, "apply")
    teacher.get_by_role("button", name="提交申请").click()

    # Then the case is in review at the six parallel departments
    expect(teacher.locator(".case-head .status")).to_have_text("审批中")
    case_id = teacher.url.rsplit("/", 1)[-1]
    expect(teacher.locator(".state-pending")).to_have_count(6)

    # When 国资处 opens the inbox: a count badge and the case waiting
    gzc = person("gzc")
    gzc.goto("/inbox")
    expect(gzc.locator("h1 .count")).to_have_text("1")
    expect(gzc.get_by_role("link", name=ITEM_NAME)).to_be_visible()
    shoot(gzc, "inbox")

    # And five departments approve, then 保卫处 returns it with a comment (a return ends the round)
    for department in [*(d for d in PARALLEL if d != "bwc"), "bwc"]:
        approver = gzc if department == "gzc" else person(department)
        if department == "bwc":
            decide(approver, case_id, "退回修改", RETURN_COMMENT)
        else:
            decide(approver, case_id, "通过")

    # Then 李老师 sees it returned with 保卫处's comment, and resubmits a revised drawing
    teacher.goto(f"/cases/{case_id}")
    expect(teacher.locator(".case-head .status")).to_have_text("已退回,待补正")
    expect(teacher.get_by_role("alert")).to_contain_text(f"保卫处:{RETURN_COMMENT}")
    upload(teacher, "本次结构设计图", "本次结构设计图-标明消防通道.pdf", PDF, "application/pdf")
    teacher.get_by_role("button", name="重新提交").click()
    expect(teacher.get_by_role("status")).to_contain_text("已重新提交")
    expect(teacher.locator(".case-head")).to_contain_text("第2次提交")
    expect(teacher.locator(".state-pending")).to_have_count(6)

    # When all six approve this time, and then 财务处 approves the cost
    for department in PARALLEL:
        decide(person(department), case_id, "通过")
    decide(person("cwc"), case_id, "通过")

    # Then the case is approved, and its timeline names every step and who took it
    teacher.goto(f"/cases/{case_id}")
    expect(teacher.locator(".case-head .status")).to_have_text("已办结(通过)")
    timeline = teacher.locator("ol.timeline")
    expect(timeline.locator("li", has_text="保卫处:退回")).to_contain_text("保卫处审批员")
    expect(timeline.locator("li", has_text="保卫处:退回")).to_contain_text(RETURN_COMMENT)
    expect(timeline.locator("li", has_text="补正后重新提交")).to_contain_text("李老师")
    expect(timeline.locator("li", has_text="财务处:通过")).to_contain_text("财务处审批员")
    expect(timeline.locator("li", has_text="办结:审批通过")).to_have_count(1)
    shoot(teacher, "case-timeline")

    # When 纪委办公室 opens the dashboard and replays the case as of the return
    supervisor = person("discipline")
    supervisor.goto("/supervision")
    expect(supervisor.locator("#verification")).to_contain_text("✓ 校验通过")
    expect(supervisor.get_by_role("link", name="下载监督报表(.xlsx)")).to_be_visible()
    shoot(supervisor, "dashboard")
    supervisor.get_by_label("办件号").fill(case_id)
    supervisor.get_by_role("button", name="回放").click()
    returned_at = supervisor.locator(".all-steps li", has_text="退回申请人补正")
    step = returned_at.get_attribute("data-step")
    assert step is not None
    supervisor.get_by_label(re.compile("^回放到第")).fill(step)
    supervisor.get_by_role("button", name="查看该时刻").click()

    # Then the case as it stood then: returned, with 保卫处's comment
    expect(supervisor.locator("main .status").first).to_have_text("已退回,待补正")
    expect(supervisor.locator(".alert-warn")).to_contain_text(f"保卫处:{RETURN_COMMENT}")
    expect(supervisor.locator("ol.timeline li").last).to_contain_text("退回申请人补正")
    shoot(supervisor, "replay")
