"""The event contract needs no Python: the Node.js example in `examples/node-consumer` follows
a case through `approval.events` with the read-only campus credentials of the bus."""
from __future__ import annotations

import queue
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.busaccess import bus_user, login_uri
from tests.support.gateway import Api
from tests.support.hall import PARALLEL, submit_renovation
from tests.support.processes import ROOT

pytestmark = pytest.mark.integration

EXAMPLE = ROOT / "examples" / "node-consumer"


class NodeConsumer:
    """``node consume.js`` as a subprocess, its printed lines read as they come."""

    def __init__(self, amqp_url: str, log: Path) -> None:
        node = shutil.which("node")
        assert node, "Node.js is needed (the machine has it; README: make test)"
        assert (EXAMPLE / "node_modules" / "amqplib").is_dir(), "make test installs amqplib (npm ci)"
        self.proc = subprocess.Popen(
            [node, "consume.js"], cwd=EXAMPLE, text=True, stdout=subprocess.PIPE,
            stderr=log.open("w"), env={"ONETRIP_AMQP_URL": amqp_url, "PATH": "/usr/bin:/bin"},
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for text in self.proc.stdout:
            self.lines.put(text.rstrip("\n"))

    def until(self, marker: str, timeout: float = 60) -> list[str]:
        """Every line printed until one holding ``marker`` (that one included)."""
        seen: list[str] = []
        while True:
            try:
                seen.append(self.lines.get(timeout=timeout))
            except queue.Empty:
                raise AssertionError(f"no line with {marker!r}; printed:\n" + "\n".join(seen)) from None
            if marker in seen[-1]:
                return seen

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


@pytest.fixture
def node_consumer(hall: Api, service_env: dict[str, str], tmp_path: Path) -> Iterator[NodeConsumer]:
    campus = bus_user("campus")
    assert campus is not None
    consumer = NodeConsumer(login_uri(service_env["AMQP_URI"], campus), tmp_path / "node.log")
    try:
        consumer.until("following approval.events")
        yield consumer
    finally:
        consumer.stop()


def test_a_node_program_with_campus_credentials_follows_a_case_to_its_end(
    hall: Api, node_consumer: NodeConsumer
) -> None:
    # Given another campus system's Node.js program following approval.events
    # When 李老师 applies for 公房装修改造申请 with both drawings and every department approves
    _, case_id = submit_renovation(hall)
    for department in [*PARALLEL, "cwc"]:
        approver = hall.as_user(department)
        task = next(t for t in approver.get("/api/v1/tasks").json()["tasks"]
                    if t["case_id"] == case_id)
        decided = approver.post(f"/api/v1/tasks/{task['task_id']}/decision",
                                json={"decision": "approve", "comment": "同意"})
        assert decided.status_code == 200, decided.text
    # Then it prints the case's progress, in order, from the submission to 办理成功
    printed = [line for line in node_consumer.until("type=case_approved") if f"case={case_id}" in line]
    kinds = [line.split("type=")[1].split()[0] for line in printed]
    assert kinds[0] == "case_submitted" and "teacher1 申请「公房装修改造申请」" in printed[0]
    assert kinds.count("node_opened") == 7 and kinds.count("node_decided") == 7
    assert kinds[-1] == "case_approved" and printed[-1].endswith("办理成功")
    assert any(line.endswith("cwc 通过: 同意") for line in printed)
