"""Creates the database and each service's schema: ``python -m shared.bootstrap``."""
from __future__ import annotations

from shared.config import Settings
from shared.eventstore import ensure_database, ensure_schema

SCHEMAS = ("catalogue", "approval", "notify", "audit", "gateway")


def main() -> None:
    database = Settings().database
    ensure_database(database)
    for schema in SCHEMAS:
        ensure_schema(database, schema)
    print(f"database {database.dbname} on {database.host}:{database.port} is ready")


if __name__ == "__main__":
    main()
