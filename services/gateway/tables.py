"""The gateway's own tables in PostgreSQL (files, idempotency keys): a pool on its schema,
the tables created once under the schema lock."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from psycopg_pool import ConnectionPool

from shared.config import Settings
from shared.eventstore import ensure_database, ensure_schema, schema_lock

SCHEMA = "gateway"


def gateway_pool(min_size: int, max_size: int) -> ConnectionPool[Any]:
    settings = Settings()
    ensure_database(settings.database)
    ensure_schema(settings.database, SCHEMA)
    return ConnectionPool(settings.database.conninfo(), min_size=min_size, max_size=max_size,
                          open=True, kwargs={"autocommit": True})


def create_tables(create: Callable[[], None]) -> None:
    with schema_lock(Settings(), SCHEMA):
        create()
