"""Where the tests' PostgreSQL and RabbitMQ are: containers when a Docker engine answers,
otherwise the servers named by DATABASE_URL / AMQP_URI (defaulting to the local ones)."""
from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
from psycopg import sql

from shared.bootstrap import declare_exchanges
from shared.busaccess import BrokerAdmin
from shared.config import DEFAULTS, Database, Settings


@dataclass(frozen=True)
class Servers:
    database_url: str
    amqp_uri: str
    rabbit_container: Any = None

    def database(self) -> Database:
        return Database.from_url(self.database_url)

    def broker(self) -> BrokerAdmin:
        return BrokerAdmin.of(self.amqp_uri, Settings().broker_api_url)


def docker_engine_answers() -> bool:
    try:
        import docker

        docker.from_env().ping()
        return True
    except Exception:  # noqa: BLE001 - no module, no socket, no engine: all mean "no Docker"
        return False


@contextmanager
def start_servers() -> Iterator[Servers]:
    if docker_engine_answers():
        from testcontainers.postgres import PostgresContainer
        from testcontainers.rabbitmq import RabbitMqContainer

        rabbit = RabbitMqContainer("rabbitmq:3.13-management").with_exposed_ports(15672)
        with PostgresContainer("postgres:15") as pg, rabbit as mq:
            url = pg.get_connection_url(driver=None).replace("postgresql+psycopg2", "postgresql")
            host = mq.get_container_host_ip()
            amqp = f"amqp://guest:guest@{host}:{mq.get_exposed_port(5672)}/"
            os.environ["ONETRIP_BROKER_API_URL"] = f"http://{host}:{mq.get_exposed_port(15672)}/api"
            yield Servers(url, amqp, rabbit_container=mq)
        return
    yield Servers(
        os.environ.get("DATABASE_URL") or DEFAULTS["DATABASE_URL"],
        os.environ.get("AMQP_URI") or DEFAULTS["AMQP_URI"],
    )


@contextmanager
def fresh_database(servers: Servers) -> Iterator[str]:
    base = servers.database()
    name = f"onetrip_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base.conninfo("postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    parts = urlsplit(servers.database_url)
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(base.conninfo("postgres"), autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@contextmanager
def fresh_vhost(servers: Servers) -> Iterator[str]:
    """A virtual host of the test's own, set up as ``shared.bootstrap`` sets one up: its bus
    users (named after it) with their permissions, so each service runs as its own user, and
    the exchanges declared. The URI it yields is the administrator's (the test's observers)."""
    vhost = f"onetrip-test-{uuid.uuid4().hex[:12]}"
    broker = servers.broker()
    broker.grant(vhost)
    uri = urlunsplit(urlsplit(servers.amqp_uri)._replace(path="/" + quote(vhost, safe="")))
    try:
        declare_exchanges(uri)
        yield uri
    finally:
        broker.revoke(vhost)


def service_environment(database_url: str, amqp_uri: str, tmp_path: Path) -> dict[str, str]:
    """The environment for service processes of a test: its own database and vhost, the
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
            # server's 100 connections: each event store keeps one open and borrows more only
            # under load (as many as a service has workers).
            "ONETRIP_DB_POOL_SIZE": "1",
            "ONETRIP_DB_MAX_OVERFLOW": "9",
        }
    )
    env.pop("ONETRIP_FAULT", None)
    return env


__all__ = [
    "Servers", "fresh_database", "fresh_vhost", "replace", "service_environment", "start_servers",
]
