"""The online hall as integration tests drive it: demo services running, uploads, the seed item."""
from __future__ import annotations

from collections.abc import Iterator


from tests.support.gateway import Api, start_gateway
from tests.support.processes import ProcessGroup, eventually

ITEM = "gongfang-zhuangxiu"
PARALLEL = ["gzc", "jjc", "xxh", "hq", "bwc", "bmc"]
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n%%EOF\n"


def running_hall(processes: ProcessGroup) -> Iterator[Api]:
    """The catalogue, approval and gateway running with the demo data."""
    processes.start("catalogue").wait_for_queue("rpc-catalogue")
    processes.start("approval").wait_for_queue("rpc-approval")
    _, api = start_gateway(processes)
    # the approval service learns the published demo items from the bus
    teacher = api.as_user("teacher1")
    eventually(lambda: _item_known(teacher), timeout=30)
    yield api


def _item_known(teacher: Api) -> bool:
    reply = teacher.post("/api/v1/cases", json={"item_id": "wangluo-kaitong", "form": {}})
    return reply.status_code == 201


def upload(user: Api, name: str, content: bytes) -> str:
    reply = user.post("/api/v1/files", files={"file": (name, content)})
    assert reply.status_code == 201, reply.text
    return str(reply.json()["file_id"])
