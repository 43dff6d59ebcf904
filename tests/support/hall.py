"""The online hall as integration tests drive it: demo services running, uploads, the seed item."""
from __future__ import annotations

from collections.abc import Iterator

import psycopg

from services.approval.domain import published_item_id
from tests.support.gateway import Api, start_gateway
from tests.support.processes import ProcessGroup, eventually

ITEM = "gongfang-zhuangxiu"
PARALLEL = ["gzc", "jjc", "xxh", "hq", "bwc", "bmc"]
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n%%EOF\n"


DEMO_ITEMS = (ITEM, "wangluo-kaitong")


def running_hall(processes: ProcessGroup) -> Iterator[Api]:
    """The catalogue, approval and gateway running with the demo data."""
    processes.start("catalogue").wait_for_queue("rpc-catalogue")
    processes.start("approval").wait_for_queue("rpc-approval")
    _, api = start_gateway(processes)
    # the approval service learns the published demo items from the bus
    eventually(lambda: items_learnt(processes.env["DATABASE_URL"]) == set(DEMO_ITEMS), timeout=30)
    yield api


def items_learnt(database_url: str) -> set[str]:
    """Which demo items the approval service has stored as published (read from its event
    store, so that waiting for it leaves no case behind)."""
    ids = {str(published_item_id(item_id)): item_id for item_id in DEMO_ITEMS}
    with psycopg.connect(database_url) as conn:
        try:
            rows = conn.execute(
                "SELECT DISTINCT originator_id::text FROM approval.approval_events"
                " WHERE originator_id = ANY(%s::uuid[])",
                (list(ids),),
            ).fetchall()
        except psycopg.errors.UndefinedTable:
            return set()
    return {ids[row[0]] for row in rows}


def upload(user: Api, name: str, content: bytes) -> str:
    reply = user.post("/api/v1/files", files={"file": (name, content)})
    assert reply.status_code == 201, reply.text
    return str(reply.json()["file_id"])


def every_page(case_id: str) -> list[tuple[str | None, str]]:
    """Each page of the hall with a case in it, and who opens it (None: a visitor)."""
    return [
        (None, "/"),
        (None, "/?q=%E8%A3%85%E4%BF%AE&department=gzc"),  # q=装修
        (None, f"/items/{ITEM}"),
        (None, "/login"),
        ("teacher1", "/cases"),
        ("teacher1", f"/cases/{case_id}"),
        ("teacher1", f"/items/{ITEM}/apply"),
        ("teacher1", "/notifications"),
        ("gzc", "/inbox"),
        ("gzc", f"/cases/{case_id}"),
        ("gzc", "/editor"),
        ("gzc", f"/editor/items/{ITEM}"),
        ("gzc", "/editor/items/new"),
        ("gzc", "/delegations"),
        ("office", "/review"),
        ("discipline", "/supervision"),
        ("discipline", "/supervision/verify"),
        ("discipline", "/supervision/ratings"),
        ("discipline", f"/supervision/cases/{case_id}"),
    ]


def submit_renovation(hall: Api) -> tuple[Api, str]:
    """李老师 applies for 公房装修改造申请 with both drawings; her client and the case id."""
    teacher = hall.as_user("teacher1")
    materials = {"改造前结构图": upload(teacher, "改造前结构图.png", PNG),
                 "本次结构设计图": upload(teacher, "本次结构设计图.pdf", PDF)}
    reply = teacher.post("/api/v1/cases", json={
        "item_id": ITEM, "form": {"房间": "航空楼 301"}, "materials": materials})
    assert reply.status_code == 201, reply.text
    return teacher, str(reply.json()["case_id"])
