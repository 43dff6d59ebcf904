from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

os.environ.setdefault("PSYCOPG_WAIT_FUNC", "wait_select")

import pytest

pytest_plugins = ["tests.support.notify"]

from tests.support.processes import ProcessGroup
from tests.support.servers import (
    Servers,
    fresh_database,
    fresh_vhost,
    service_environment,
    start_servers,
)


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
    """The environment for service processes of one test: its own database and vhost."""
    return service_environment(database_url, amqp_uri, tmp_path)


@pytest.fixture
def processes(service_env: dict[str, str], tmp_path: Path) -> Iterator[ProcessGroup]:
    group = ProcessGroup(service_env, tmp_path)
    yield group
    group.stop_all()
