"""The event-store base every service builds on: an eventsourcing Application on PostgreSQL.

Each service keeps its streams in its own PostgreSQL schema. Its notification log is
its outbox (see ``shared.relay``); a consuming service records the upstream position
in the same transaction as its own events (``ConsumingApplication.consume``).
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, ClassVar, NamedTuple, Protocol, Self, TypeVar

import psycopg
from eventsourcing.application import Application, ProcessingEvent
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import IntegrityError, Mapper, StoredEvent, Tracking
from eventsourcing.projection import EventSourcedProjection
from psycopg import sql

from shared import correlation
from shared.config import Database, Settings
from shared.contracts import SCHEMA_VERSION, IntegrationEvent
from shared.workdays import HOLIDAYS_FILE_VARIABLE

log = logging.getLogger(__name__)

T = TypeVar("T")
CONSUME_ATTEMPTS = 20


class Publication(NamedTuple):
    """What a stored domain event says on the bus: its wire type, data, actor, schema version."""

    type: str
    data: dict[str, Any]
    actor: str | None
    schema_version: int = SCHEMA_VERSION


def application_env(schema: str, settings: Settings | None = None) -> dict[str, str]:
    settings = settings or Settings()
    db = settings.database
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": db.dbname,
        "POSTGRES_HOST": db.host,
        "POSTGRES_PORT": str(db.port),
        "POSTGRES_USER": db.user,
        "POSTGRES_PASSWORD": db.password,
        "POSTGRES_SCHEMA": schema,
        # Redelivered messages may arrive out of order: track every id, not only the max.
        "SINGLE_ROW_TRACKING": "n",
        # Every process of the hall shares PostgreSQL's max_connections (100 by default).
        "POSTGRES_POOL_SIZE": str(settings.db_pool_size),
        "POSTGRES_MAX_OVERFLOW": str(settings.db_max_overflow),
        "POSTGRES_CONN_MAX_AGE": "600",
        # A broken pooled connection is retried by the recorder; pinging each checkout cost ~10%.
        "POSTGRES_PRE_PING": "n",
        # Commands load from a cache and fast-forward from the store: correct with several instances.
        "AGGREGATE_CACHE_MAXSIZE": "5000",
        "AGGREGATE_CACHE_FASTFORWARD": "y",
        # The working-day calendar's school closures (shared.workdays), for the applications
        # that count working days.
        HOLIDAYS_FILE_VARIABLE: settings.holidays_file,
    }


def ensure_database(db: Database) -> None:
    with psycopg.connect(db.conninfo("postgres"), autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (db.dbname,)
        ).fetchone()
        if not exists:
            try:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db.dbname)))
            except psycopg.errors.DuplicateDatabase:
                pass  # another instance created it first


def ensure_schema(db: Database, schema: str) -> None:
    with psycopg.connect(db.conninfo(), autocommit=True) as conn:
        try:
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        except psycopg.errors.UniqueViolation:
            pass  # a concurrent CREATE SCHEMA won the race


class EventStores(Protocol):
    """One application, or several joined (``services.audit.hall``): what a service opens."""

    service: ClassVar[str]

    @classmethod
    def composed(cls, env: dict[str, str], settings: Settings) -> Self:
        """Constructed by the process's composition root with its settings."""
        ...

    @property
    def outbox(self) -> OnetripApplication:
        """The application whose notification log the relay publishes."""
        ...

    def close(self) -> None: ...


A_ = TypeVar("A_", bound=EventStores)


def open_application(application_class: type[A_], schema: str, settings: Settings | None = None) -> A_:
    """Construct an application whose tables may not exist yet, safely while other
    instances start too: two concurrent ``CREATE TABLE IF NOT EXISTS`` of one table
    race in PostgreSQL's catalogue (a unique violation on ``pg_type``)."""
    settings = settings or Settings()
    ensure_database(settings.database)
    ensure_schema(settings.database, schema)
    with schema_lock(settings, schema):
        return application_class.composed(application_env(schema, settings), settings)


@contextmanager
def schema_lock(settings: Settings, schema: str) -> Iterator[None]:
    """Serialises the creation of one schema's tables across processes."""
    key = f"onetrip-tables:{schema}"
    with psycopg.connect(settings.database.conninfo(), autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(hashtext(%s))", (key,))
        try:
            yield
        finally:
            conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (key,))


def retry_on_conflict(command: Callable[[], T], attempts: int = 20) -> T:
    """Re-run a load-decide-save command when a concurrent writer saved the aggregate first."""
    for attempt in range(attempts):
        try:
            return command()
        except IntegrityError:
            if attempt == attempts - 1:
                raise
            log.debug("version conflict, retrying (attempt %d)", attempt + 1)
    raise AssertionError("unreachable")


class CorrelatingMapper(Mapper[Any]):
    """Stamps each event it stores with the correlation id of the request or event being
    handled (``shared.correlation``): the relay carries it into the envelope."""

    def to_stored_event(self, domain_event: DomainEventProtocol[Any]) -> StoredEvent:
        correlation_id = correlation.current()
        if correlation_id and not hasattr(domain_event, CORRELATION_ATTRIBUTE):
            object.__setattr__(domain_event, CORRELATION_ATTRIBUTE, correlation_id)
        return super().to_stored_event(domain_event)


CORRELATION_ATTRIBUTE = "correlation_id"


class OnetripApplication(Application[Any]):
    """An application whose stored events may be published as integration events."""

    service: ClassVar[str] = ""

    @classmethod
    def composed(cls, env: dict[str, str], settings: Settings) -> Self:
        return cls(env=env)

    @property
    def outbox(self) -> OnetripApplication:
        return self

    def construct_mapper(self) -> Mapper[Any]:
        return self.factory.mapper(
            transcoder=self.construct_transcoder(), mapper_class=CorrelatingMapper
        )

    def publication(self, domain_event: DomainEventProtocol[Any]) -> Publication | None:
        """The integration event for a stored domain event, or None to keep it private."""
        return None

    def integration_event(self, notification: Any) -> IntegrationEvent | None:
        domain_event = self.mapper.to_domain_event(notification)
        publication = self.publication(domain_event)
        if publication is None:
            return None
        occurred_at: datetime = domain_event.timestamp
        return IntegrationEvent.build(
            type=publication.type,
            service=self.service,
            aggregate_id=str(domain_event.originator_id),
            aggregate_version=domain_event.originator_version,
            notification_id=notification.id,
            occurred_at=occurred_at,
            actor=publication.actor,
            data=publication.data,
            correlation_id=getattr(domain_event, CORRELATION_ATTRIBUTE, None),
            schema_version=publication.schema_version,
        )


class ConsumingApplication(EventSourcedProjection[Any], OnetripApplication):
    """Applies integration events from the bus with exactly-once effects.

    ``policy`` collects new events on the processing event; they are recorded in one
    transaction with the tracking record (upstream service, notification id), so a
    duplicate delivery writes nothing.
    """

    def policy(self, domain_event: Any, processing_event: ProcessingEvent[Any]) -> None:
        raise NotImplementedError

    def consume(self, event: IntegrationEvent, work: Any = None) -> bool:
        """Apply an event once (as ``work`` when the policy wants more than the event).
        Returns False when it had been applied already.

        "Seen already?" is asked only after a conflict: a round trip saved on every event,
        where duplicates are the exception.
        """
        # A later schema_version keeps every field of the earlier ones (docs/integration.md,
        # "Versions"): this reader reads what it knows of it.
        tracking = Tracking(application_name=event.service, notification_id=event.notification_id)
        for attempt in range(CONSUME_ATTEMPTS):
            try:
                self.process_event(event if work is None else work, tracking)
                return True
            except IntegrityError:
                # The tracking row's key refuses a duplicate: nothing was written. Otherwise
                # another writer saved one of our aggregates first: reload and retry.
                if self.has_consumed(event.service, event.notification_id):
                    return False
                log.debug("conflict consuming %s, attempt %d", event.event_id, attempt + 1)
        raise IntegrityError(
            f"could not apply {event.type} {event.event_id} after {CONSUME_ATTEMPTS} attempts"
        )

    def has_consumed(self, service: str, notification_id: int) -> bool:
        recorder: Any = self.recorder
        statement = sql.SQL(
            "SELECT 1 FROM {}.{} WHERE application_name = %s AND notification_id = %s"
        ).format(
            sql.Identifier(recorder.datastore.schema),
            sql.Identifier(recorder.tracking_table_name),
        )
        with recorder.datastore.transaction(commit=False) as curs:
            curs.execute(statement, (service, notification_id))
            return curs.fetchone() is not None
