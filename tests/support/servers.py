"""Where the tests' PostgreSQL and RabbitMQ are: containers when a Docker engine answers,
otherwise the servers named by DATABASE_URL / AMQP_URI (defaulting to the local ones)."""
from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
from psycopg import sql

from shared.config import DEFAULTS, Database


@dataclass(frozen=True)
class Servers:
    database_url: str
    amqp_uri: str
    rabbit_container: Any = None

    def database(self) -> Database:
        return Database.from_url(self.database_url)


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

        with PostgresContainer("postgres:15") as pg, RabbitMqContainer("rabbitmq:3.13") as mq:
            url = pg.get_connection_url(driver=None).replace("postgresql+psycopg2", "postgresql")
            amqp = f"amqp://guest:guest@{mq.get_container_host_ip()}:{mq.get_exposed_port(5672)}/"
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


def _rabbitmqctl(servers: Servers, *args: str) -> None:
    if servers.rabbit_container is not None:
        servers.rabbit_container.exec(["rabbitmqctl", "-q", *args])
        return
    if not shutil.which("rabbitmqctl"):
        raise RuntimeError("rabbitmqctl is needed to give each test its own virtual host")
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


@contextmanager
def fresh_vhost(servers: Servers) -> Iterator[str]:
    vhost = f"onetrip-test-{uuid.uuid4().hex[:12]}"
    parts = urlsplit(servers.amqp_uri)
    user = parts.username or "guest"
    _rabbitmqctl(servers, "add_vhost", vhost)
    _rabbitmqctl(servers, "set_permissions", "-p", vhost, user, ".*", ".*", ".*")
    try:
        yield urlunsplit(parts._replace(path="/" + quote(vhost, safe="")))
    finally:
        _rabbitmqctl(servers, "delete_vhost", vhost)


__all__ = ["Servers", "fresh_database", "fresh_vhost", "replace", "start_servers"]
