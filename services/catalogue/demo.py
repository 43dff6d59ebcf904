"""The demo catalogue of the contract's demo data, seeded through the application's own commands.

Seeding moves each demo item forward from wherever it stands (absent → draft → submitted
→ reviewed → published), so a second run adds nothing and an interrupted run completes.
"""

from __future__ import annotations

from typing import Any

from services.catalogue.application import Actor, CatalogueApplication
from shared.contracts.catalogue import ItemDraft, ReviewRequest

EDITORS = {
    code: Actor(username=code, name=name, department=code, roles=["approver", "editor"])
    for code, name in {
        "gzc": "国资处审批员",
        "xxh": "信息化处审批员",
        "bwc": "保卫处审批员",
    }.items()
}
OFFICE = Actor(username="office", name="学校办公室审核员", department="xb", roles=["reviewer"])
PARTY = Actor(username="party", name="机关党委发布员", department="jgdw", roles=["publisher"])

APPROVERS = {
    "gzc": ("国资处审批员", "13900000001"),
    "jjc": ("基建处审批员", "13900000002"),
    "xxh": ("信息化处审批员", "13900000003"),
    "hq": ("后勤集团审批员", "13900000004"),
    "bwc": ("保卫处审批员", "13900000005"),
    "bmc": ("保密处审批员", "13900000006"),
    "cwc": ("财务处审批员", "13900000007"),
}

PARALLEL_DEPARTMENTS = ["gzc", "jjc", "xxh", "hq", "bwc", "bmc"]


def contact(department: str) -> dict[str, str]:
    name, phone = APPROVERS[department]
    return {"department": department, "name": name, "phone": phone}


def stage(name: str, *departments: str, days: int = 2) -> dict[str, Any]:
    """A stage whose departments decide in parallel, each within ``days`` working days."""
    nodes = [{"department": code, "time_limit_days": days} for code in departments]
    return {"name": name, "nodes": nodes, "on_return": "restart_stage"}


GONGFANG_ZHUANGXIU: dict[str, Any] = {
    "item_id": "gongfang-zhuangxiu",
    "name": "公房装修改造申请",
    "description": "教师个人或单位对公用房进行装修改造,需提交申请并经有关部门审核通过后才可进行。",
    "current_state": "申请人持纸质审批表到国资处、基建处、信息化处、后勤集团、保卫处、保密处、"
    "财务处逐个签字盖章，至少跑七趟。",
    "coordination": [
        {"department": "jjc", "matter": "审核房屋结构改动的安全性"},
        {"department": "xxh", "matter": "审核网络线路改造"},
        {"department": "hq", "matter": "审核水电改造"},
        {"department": "bwc", "matter": "审核消防安全"},
        {"department": "bmc", "matter": "涉密场所的保密审查"},
        {"department": "cwc", "matter": "核算装修改造经费"},
    ],
    "target": {"date": "2026-12-31", "mode": "online"},
    "materials": [
        {
            "name": "审批表",
            "kind": "form",
            "required": True,
            "template": "",
            "notes": "公房装修改造在线流程审批表",
        },
        {"name": "改造前结构图", "kind": "file", "required": True, "template": "", "notes": ""},
        {"name": "本次结构设计图", "kind": "file", "required": True, "template": "", "notes": ""},
    ],
    "notes": [
        "申请人须为公用房的使用单位或使用人，装修改造不得改变房屋主体结构。",
        "所有审批节点同时在线审批，全部通过后进入经费核算。",
        "并行审批节点之一退回修改后,申请人修改重新提交,所有节点均需再审一遍",
        "最终办理成功以收到短信为准。",
    ],
    "contacts": [contact(code) for code in [*PARALLEL_DEPARTMENTS, "cwc"]],
    "trips": 0,
    "one_trip_note": "全程网上申请、网上审批，结果以短信告知，一趟不用跑。",
    "time_limit_days": 10,
    "lead_department": "gzc",
    "flow": {
        "stages": [
            stage("并行审批", *PARALLEL_DEPARTMENTS),
            stage("经费核算", "cwc"),
        ]
    },
}

WANGLUO_KAITONG: dict[str, Any] = {
    "item_id": "wangluo-kaitong",
    "name": "校园网账号开通",
    "description": "新入职教职工和新生开通校园网账号，网上提交申请，审核通过后以短信告知账号。",
    "current_state": "到信息化建设与管理处服务窗口填写纸质申请表。",
    "target": {"date": "2026-12-31", "mode": "online"},
    "materials": [
        {"name": "申请表", "kind": "form", "required": True, "template": "", "notes": ""}
    ],
    "notes": ["账号开通结果以短信告知。"],
    "contacts": [contact("xxh")],
    "trips": 0,
    "one_trip_note": "网上申请，一趟不用跑。",
    "time_limit_days": 2,
    "lead_department": "xxh",
    "flow": {
        "stages": [stage("审核开通", "xxh")]
    },
}

CHELIANG_TONGXING: dict[str, Any] = {
    "item_id": "cheliang-tongxing",
    "name": "校园车辆通行证办理",
    "description": "教职工申请校园机动车通行证（草稿，尚未发布）。",
    "materials": [
        {"name": "机动车行驶证", "kind": "file", "required": True, "template": "", "notes": ""}
    ],
    "contacts": [contact("bwc")],
    "trips": 1,
    "one_trip_note": "领取通行证时跑一趟。",
    "time_limit_days": 3,
    "lead_department": "bwc",
    "flow": {
        "stages": [stage("保卫处审核", "bwc", days=3)]
    },
}

PUBLISHED = [(GONGFANG_ZHUANGXIU, "gzc"), (WANGLUO_KAITONG, "xxh")]
DRAFTS = [(CHELIANG_TONGXING, "bwc")]


def seed_demo(app: CatalogueApplication) -> list[str]:
    """Brings the demo items to their demo state; returns the ids of the items it created."""
    created = [
        item_id
        for item, editor in PUBLISHED + DRAFTS
        if (item_id := ensure_drafted(app, item, editor))
    ]
    for item, editor in PUBLISHED:
        ensure_published(app, item["item_id"], EDITORS[editor], item["lead_department"])
    return created


def ensure_drafted(app: CatalogueApplication, item: dict[str, Any], editor: str) -> str | None:
    if app.exists(item["item_id"]):
        return None
    return app.create_item(EDITORS[editor], ItemDraft.model_validate(item))


def ensure_published(
    app: CatalogueApplication, item_id: str, editor: Actor, lead_department: str
) -> None:
    if app.has_published(item_id):
        return  # from then on the item belongs to its editors: never push their drafts
    status = app.get_item(item_id, viewer=PARTY)["status"]
    if status in ("draft", "returned"):
        status = app.submit_item(editor, item_id)
    if status == "submitted":
        review = ReviewRequest(decision="pass", comment="同意", lead_department=lead_department)
        status = app.review_item(OFFICE, item_id, review)
    if status == "reviewed":
        app.publish_item(PARTY, item_id)
