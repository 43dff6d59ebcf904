"""An item's life through the pages: 国资处's editor drafts it with the flow editor, 学校办公室
reviews it from its queue, 机关党委 publishes it from theirs, and it appears in the public catalogue."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.e2e.conftest import Person

NAME = "公用房使用调整申请"


def test_gzc_drafts_an_item_with_two_stages_office_passes_it_and_party_publishes_it(
    person: Person,
) -> None:
    # Given 国资处's editor on a new item's form
    editor = person("gzc")
    editor.goto("/editor")
    editor.get_by_role("link", name="新建事项").click()
    editor.get_by_label(re.compile("^事项编号")).fill("gongfang-tiaozheng")
    editor.get_by_label("事项名称").fill(NAME)
    editor.get_by_label("承诺时限(工作日)").fill("5")
    editor.get_by_label("材料1名称").fill("调整申请表")

    # When the flow gets a second parallel node in stage 1, and a second stage
    editor.get_by_label("第1阶段名称").fill("并行审批")
    editor.get_by_label("第1阶段并行节点1:部门").select_option(label="国资处")
    editor.get_by_role("button", name="+ 添加并行节点").click()
    editor.get_by_label("第1阶段并行节点2:部门").select_option(label="后勤集团")
    editor.get_by_role("button", name="+ 添加阶段").click()
    editor.get_by_label("第2阶段名称").fill("经费核算")
    editor.get_by_label("第2阶段并行节点1:部门").select_option(label="财务处")

    # Then saving with a preview shows the chart of the draft
    editor.get_by_role("button", name="保存并预览流程图").click()
    expect(editor.get_by_role("status")).to_contain_text("已保存")
    expect(editor.get_by_label("第1阶段并行节点2:部门")).to_have_value("hq")
    editor.wait_for_function("() => document.querySelector('figure.chart img').naturalWidth > 0")

    # When a node's time limit is not a number, the form says so in Chinese and keeps the input
    editor.get_by_label("节点1时限(工作日)").first.fill("两天")
    editor.get_by_role("button", name="保存草稿", exact=True).click()
    expect(editor.get_by_role("alert")).to_contain_text("请输入整数")
    expect(editor.get_by_label("事项名称")).to_have_value(NAME)
    editor.get_by_label("节点1时限(工作日)").first.fill("2")

    # And it is submitted for review
    editor.get_by_role("button", name="保存并提交审核").click()
    expect(editor.get_by_role("status")).to_contain_text("已提交学校办公室审核")

    # And the editor's page lists it among the department's unpublished items
    editor.goto("/editor")
    expect(editor.get_by_role("listitem").filter(has_text=NAME)).to_contain_text("已提交,待审核")

    # When 学校办公室 finds it in the review queue and passes it
    office = person("office")
    queue = office.goto("/review")
    assert queue is not None and queue.status == 200
    waiting = office.locator("ul.items li").filter(has_text=NAME)
    expect(waiting).to_contain_text("国资处 · 已提交,待审核")
    waiting.get_by_role("link", name=NAME).click()
    expect(office.locator("h1")).to_have_text(NAME)
    office.get_by_role("radio", name="通过").check()
    office.get_by_label("审核意见").fill("材料清单完整,同意")
    office.get_by_role("button", name="提交审核意见").click()
    office.goto("/review")
    expect(office.locator("ul.items")).not_to_contain_text(NAME)

    # And 机关党委 finds it in the queue of items to publish and publishes it
    party = person("party")
    party.goto("/review")
    expect(party.locator("h1")).to_have_text("待发布的事项")
    party.locator("ul.items").get_by_role("link", name=NAME).click()
    expect(party.locator(".tag-warn")).to_have_text("审核通过,待发布")
    party.get_by_role("button", name="发布").click()

    # Then the public finds it in the catalogue, two stages and three departments on its page
    visitor = person()
    visitor.goto("/?q=调整")
    visitor.get_by_role("link", name=NAME).click()
    flow = visitor.locator("figure.chart figcaption ol li")
    expect(flow).to_have_count(2)
    expect(flow.first).to_contain_text("国资处(2个工作日)、后勤集团(2个工作日),并行审批")
    expect(flow.last).to_contain_text("财务处")
