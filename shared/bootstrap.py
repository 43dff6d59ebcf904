"""Creates the database, each service's schema and the bus topology: ``python -m shared.bootstrap``."""
from __future__ import annotations

from kombu import Connection

from shared.config import Settings
from shared.eventstore import ensure_database, ensure_schema
from shared.messaging import DEAD_LETTER_QUEUE, watch_queue
from shared.topology import SUBSCRIPTIONS

SCHEMAS = ("catalogue", "approval", "notify", "audit", "gateway")


def declare_topology(amqp_uri: str) -> None:
    with Connection(amqp_uri, connect_timeout=10) as conn:
        channel = conn.channel()
        DEAD_LETTER_QUEUE(channel).declare()
        watch_queue()(channel).declare()
        for subscription in SUBSCRIPTIONS:
            subscription.queue()(channel).declare()


def main() -> None:
    settings = Settings()
    ensure_database(settings.database)
    for schema in SCHEMAS:
        ensure_schema(settings.database, schema)
    declare_topology(settings.amqp_uri)
    print(f"database {settings.database.dbname} and {len(SUBSCRIPTIONS)} subscriptions are ready")


if __name__ == "__main__":
    main()
