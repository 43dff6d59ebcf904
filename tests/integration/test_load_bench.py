"""The load benchmark runs end to end: a few cases through the whole hall, nothing timed."""
from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.support.processes import ROOT
from tests.support.servers import Servers

pytestmark = pytest.mark.integration

FIELDS = [
    r"complete cases/s: \d+\.\d+ \(3 complete of 3 started\)",
    r"^HTTP requests: \d+ \(\d+\.\d a complete case\)$",
    r"^errors: 0$",
    *(rf"^{name} +\d+ +\d+\.\d +\d+\.\d +\d+\.\d$" for name in (
        "search", "item page", "upload", "submit", "case read", "notifications", "inbox",
        "decision", "supervision", "audit trail", "ledger verify", "complete case")),
    *(rf"^{name} +\d+\.\d{{4}} +\d+\.\d\d$" for name in (
        "catalogue", "approval", "gateway", "notify", "audit", "postgres \\(this db\\)",
        "rabbitmq")),
    r"raw commit rate \(single-row INSERT, same PostgreSQL, this run\): [\d,]+/s",
    r"commands \(submits \+ decisions\) per second: \d+\.\d \(8\.0 a case\)",
    r"ratio, commands/s ÷ raw commit rate: \d\.\d{4}",
]


def test_three_cases_go_through_the_whole_hall_and_the_report_names_every_figure(
    servers: Servers,
) -> None:
    # Given the servers the suite runs on (the benchmark makes its own database and vhost)
    env = {**os.environ, "DATABASE_URL": servers.database_url, "AMQP_URI": servers.amqp_uri,
           # the suite's other halls share the server's 100 connections (tests/support/servers.py)
           "ONETRIP_DB_POOL_SIZE": "1", "ONETRIP_DB_MAX_OVERFLOW": "9"}
    # When one applicant files three cases of 公房装修改造申请 with the seven departments deciding
    ran = subprocess.run(
        [sys.executable, "bench/load.py", "--applicants", "1", "--cases", "3", "--raw-rows", "200",
         "--seconds", "120", "--drain", "60"],
        check=False, cwd=ROOT, env=env, capture_output=True, text=True, timeout=400,
    )
    # Then every case completes (approved, its 办理成功 SMS listed), with no error
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    # And the report gives every figure the issue asks for
    missing = [field for field in FIELDS if not re.search(field, ran.stdout, re.MULTILINE)]
    assert missing == [], ran.stdout
