from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

os.environ.setdefault("PSYCOPG_WAIT_FUNC", "wait_select")

import pytest

pytest_plugins = ["tests.support.notify"]

from tests.support.processes import ProcessGroup
from tests.support.servers import Servers, fresh_database, fresh_vhost, start_servers


@pytest.fixture(scope="session")
def servers() -> Iterator[Servers]:
    with start_servers() as found:
        yield found


@pytest.fixture
def database_url(servers: Servers) -> Iterator[str]:
    with fresh_database(servers) as url:
        yield url


@pytest.fixture
def amqp_uri(servers: Servers) -> Iterator[str]:
    with fresh_vhost(servers) as uri:
        yield uri


@pytest.fixture
def service_env(database_url: str, amqp_uri: str, tmp_path: Path) -> dict[str, str]:
    """The environment for service processes of one test: its own database and vhost, the
    development keys (each service still logs in to the bus as its own user)."""
    env = dict(os.environ)
    env.update(
        {
            "ONETRIP_ENV": "development",
            "DATABASE_URL": database_url,
            "AMQP_URI": amqp_uri,
            "ONETRIP_FILES_DIR": str(tmp_path) + "/files",
            "ONETRIP_RELAY_POLL_SECONDS": "0.5",
            "ONETRIP_AUDIT_CHECKPOINT": str(tmp_path) + "/audit-checkpoint.json",
            "PYTHONUNBUFFERED": "1",
            # Three test workers, each running a hall of five services, share the test
            # server's 100 connections: each event store keeps one and borrows four more.
            "ONETRIP_DB_POOL_SIZE": "1",
            "ONETRIP_DB_MAX_OVERFLOW": "4",
        }
    )
    env.pop("ONETRIP_FAULT", None)
    return env


@pytest.fixture
def processes(service_env: dict[str, str], tmp_path: Path) -> Iterator[ProcessGroup]:
    group = ProcessGroup(service_env, tmp_path)
    yield group
    group.stop_all()
