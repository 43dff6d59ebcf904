"""Creates the database, each service's schema, the bus users and the bus topology:
``python -m shared.bootstrap`` (as the administrator named in ``AMQP_URI``)."""
from __future__ import annotations

import sys
import time

from kombu import Connection
from kombu.exceptions import OperationalError
from nameko.rpc import get_rpc_exchange

from shared.busaccess import BrokerAdmin, BrokerAdminError, BrokerUnreachableError, vhost_of
from shared.config import Settings
from shared.eventstore import ensure_database, ensure_schema
from shared.keys import bootstrap_keys, refuse_development_keys
from shared.messaging import DEAD_LETTER_QUEUE, REPLAYED_EXCHANGE, watch_queue
from shared.topology import PUBLISHERS, SUBSCRIPTIONS, events_exchange, manifests_exchange

SCHEMAS = ("catalogue", "approval", "notify", "audit", "gateway")
BROKER_PATIENCE_SECONDS = 120.0  # a broker container starting beside this one


def declare_exchanges(amqp_uri: str) -> None:
    """Every exchange on the bus (events, RPC, dead letters): a subscriber may bind to an
    exchange but not declare it, so it must exist before any consumer starts."""
    with Connection(amqp_uri, connect_timeout=10) as conn:
        channel = conn.channel()
        DEAD_LETTER_QUEUE(channel).declare()
        get_rpc_exchange({})(channel).declare()
        REPLAYED_EXCHANGE(channel).declare()
        for publisher in PUBLISHERS:
            events_exchange(publisher)(channel).declare()
            manifests_exchange(publisher)(channel).declare()


def declare_topology(amqp_uri: str) -> None:
    declare_exchanges(amqp_uri)
    with Connection(amqp_uri, connect_timeout=10) as conn:
        channel = conn.channel()
        watch_queue()(channel).declare()
        for subscription in SUBSCRIPTIONS:
            subscription.queue()(channel).declare()


def set_up_bus(
    amqp_uri: str, patience: float = BROKER_PATIENCE_SECONDS, broker_api_url: str = ""
) -> None:
    """The bus users with their permissions, then the exchanges and subscriber queues; waits
    for a broker that does not answer yet."""
    deadline = time.monotonic() + patience
    while True:
        try:
            BrokerAdmin.of(amqp_uri, broker_api_url).grant(vhost_of(amqp_uri))
            declare_topology(amqp_uri)
            return
        except (BrokerUnreachableError, OperationalError, ConnectionError) as exc:
            if time.monotonic() > deadline:
                raise
            print(f"waiting for RabbitMQ: {exc}", file=sys.stderr, flush=True)
            time.sleep(2)


def main() -> None:
    refuse_development_keys(bootstrap_keys(), "python -m shared.bootstrap")
    settings = Settings()
    ensure_database(settings.database)
    for schema in SCHEMAS:
        ensure_schema(settings.database, schema)
    try:
        set_up_bus(settings.amqp_uri, broker_api_url=settings.broker_api_url)
    except BrokerAdminError as exc:
        sys.exit(f"python -m shared.bootstrap: {exc}")
    print(f"database {settings.database.dbname}, the bus users and "
          f"{len(SUBSCRIPTIONS)} subscriptions are ready")


if __name__ == "__main__":
    main()
