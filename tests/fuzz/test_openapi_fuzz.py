"""The API fuzzer as a guard: schemathesis (``--checks all``) against a running hall with the demo
data, once for every demo role and once without a token. It fails on any 5xx, on any answer the
OpenAPI document does not describe (status, content type, headers, body), and on schema-valid input
refused or schema-invalid input accepted, except where ``schemathesis.toml`` says why."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from tests.support.gateway import DEMO_PASSWORD
from tests.support.hall import running_hall
from tests.support.notify import SmsGateway, smtp_server
from tests.support.processes import ROOT, ProcessGroup
from tests.support.servers import Servers, fresh_database, fresh_vhost, service_environment

pytestmark = pytest.mark.integration

ROLES = (None, "teacher1", "gzc", "office", "party", "discipline", "admin")
EXAMPLES_PER_OPERATION = 20
AT_ONCE = 3  # runs side by side: each waits on the hall about as long as it computes
SEED = 20261201  # fixed, so a finding is reproduced by the same run; `st run --seed` replays it
ST = str(Path(sys.executable).with_name("st"))


@pytest.fixture(scope="module")
def hall_url(servers: Servers, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Every service (catalogue, approval, notify, audit, gateway) with the demo data, an SMS
    gateway and a mail sink: what `make up` runs."""
    tmp = tmp_path_factory.mktemp("fuzzed-hall")
    with fresh_database(servers) as database, fresh_vhost(servers) as amqp:
        env = service_environment(database, amqp, tmp)
        sms = SmsGateway(tmp, env)
        with smtp_server() as (_, smtp_port):
            env.update(ONETRIP_SMS_URL=f"{sms.url}/v1/sms", ONETRIP_SMTP_PORT=str(smtp_port))
            group = ProcessGroup(env, tmp)
            try:
                backends = [group.start(name) for name in ("audit", "notify")]
                hall = next(running_hall(group)).base_url
                for backend in backends:
                    backend.wait_for_queue(f"rpc-{backend.target}")
                yield hall
            finally:
                group.stop_all()
                sms.stop()


def token_of(base_url: str, username: str) -> str:
    reply = requests.post(f"{base_url}/api/v1/session", timeout=30,
                          json={"username": username, "password": DEMO_PASSWORD})
    assert reply.status_code == 200, reply.text
    return str(reply.json()["token"])


def fuzz(base_url: str, token: str | None) -> subprocess.CompletedProcess[str]:
    auth = [] if token is None else ["-H", f"Authorization: Bearer {token}"]
    command = [
        ST, "--no-color", "run", f"{base_url}/api/v1/openapi.json", "--checks", "all", *auth,
        "--max-examples", str(EXAMPLES_PER_OPERATION), "--seed", str(SEED),
        # One worker: hypothesis's lambda descriptions are not thread-safe on Python 3.11.
        "--workers", "1",
    ]
    # The bound of the test: a run that takes longer than this has hung (a run takes 30-60 s).
    return subprocess.run(command, check=False, cwd=ROOT, capture_output=True, text=True, timeout=300)


def generated(output: str) -> list[str]:
    """schemathesis's own count: "2870 generated, 2870 passed" (one request each, and more for
    the checks that replay a request without its token)."""
    return [line.strip() for line in output.splitlines() if " generated," in line][-1:]


def summary(output: str) -> str:
    """The findings of a run, one block per operation: the failures, the answer, and the curl
    line that reproduces it (``st run`` prints the whole report)."""
    kept = [
        line for line in output.splitlines()
        if line.startswith(("___", "- ", "[")) or line.lstrip().startswith(("curl ", "`{"))
    ]
    return "\n".join(kept)[:8000] or output[-3000:]


def test_the_fuzzer_finds_no_server_error_and_no_answer_off_the_document(hall_url: str) -> None:
    # Given the hall with its demo data, each demo role signed in (before the fuzzer's logins
    # get this address throttled) and nobody signed in
    tokens = [None if who is None else token_of(hall_url, who) for who in ROLES]
    # When schemathesis runs every check on every operation for each of them
    with ThreadPoolExecutor(AT_ONCE) as pool:
        runs = dict(zip(ROLES, pool.map(lambda token: fuzz(hall_url, token), tokens), strict=True))
    # Then nothing is found, for anybody
    for who, run in runs.items():
        print(who or "anonymous", *generated(run.stdout))  # seen with `pytest -s`
    found = {
        who or "anonymous": summary(run.stdout + run.stderr)
        for who, run in runs.items()
        if run.returncode != 0
    }
    assert found == {}, "\n\n".join(f"### {who}\n{text}" for who, text in found.items())
