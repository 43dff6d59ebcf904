"""A newcomer's first command: `make up` on a fresh clone serves /healthz, and Ctrl-C stops it all."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests

from tests.support.processes import ROOT, eventually

pytestmark = pytest.mark.integration


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def processes_in_group(pgid: int) -> list[str]:
    out = subprocess.run(
        ["ps", "-eo", "pgid=,pid=,args="], capture_output=True, text=True, check=True
    ).stdout
    return [line for line in out.splitlines() if line.split(None, 1)[0] == str(pgid)]


def test_make_up_on_a_fresh_clone_is_healthy_within_a_minute_and_ctrl_c_stops_everything(
    tmp_path: Path, service_env: dict[str, str]
) -> None:
    # Given a fresh clone of the repository, installed
    clone = tmp_path / "onetrip"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    # (without ONETRIP_ENV: `make up` itself says this is a development run)
    env = {k: v for k, v in service_env.items()
           if not k.startswith("VIRTUAL_ENV") and k != "ONETRIP_ENV"}
    env.update(
        PORT=str(free_port()),
        ONETRIP_SMS_PORT=str(free_port()),
        ONETRIP_SMTP_PORT=str(free_port()),
        ONETRIP_FILES_DIR=str(tmp_path / "files"),
        ONETRIP_SMS_DB=str(tmp_path / "sms.sqlite3"),
        ONETRIP_AUDIT_CHECKPOINT=str(tmp_path / "audit-checkpoint.json"),
    )
    subprocess.run(["make", "install"], cwd=clone, env=env, check=True, capture_output=True, timeout=600)
    # When the newcomer runs `make up`
    log = open(tmp_path / "make-up.log", "wb")  # noqa: SIM115 - closed after `make up` stops
    started = time.monotonic()
    up = subprocess.Popen(["make", "up"], cwd=clone, env=env, stdout=log, stderr=subprocess.STDOUT,
                          start_new_session=True)
    url = f"http://127.0.0.1:{env['PORT']}/healthz"
    try:
        # Then /healthz answers 200 with every service ok within 60 s
        def healthy() -> dict[str, object]:
            try:
                reply = requests.get(url, timeout=5)
            except requests.RequestException:
                return {}
            return reply.json() if reply.status_code == 200 else {}

        body = eventually(healthy, timeout=60, interval=0.5)
        assert body["services"] == {s: "ok" for s in ("catalogue", "approval", "notify", "audit")}
        assert time.monotonic() - started < 60
    finally:
        # And Ctrl-C stops every process it started
        os.killpg(up.pid, signal.SIGINT)
        try:
            up.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(up.pid, signal.SIGKILL)
            raise
        log.close()
    eventually(lambda: not processes_in_group(up.pid), timeout=20)
    output = (tmp_path / "make-up.log").read_text(errors="replace")
    assert "gateway.1" in output and "approval.1" in output  # logs prefixed per service
