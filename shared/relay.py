"""The outbox relay: follows an application's notification log and publishes it.

Exactly one relay per application is active (a PostgreSQL advisory lock held on the
relay's own connection); the others wait and take over when it dies. The relay wakes
on the recorder's LISTEN/NOTIFY channel and also polls, publishes each batch of events
persistently with publisher confirms, and stores its position only after the broker
confirmed the whole batch: a crash in between publishes an event twice, never loses one.
The confirms of a batch are awaited together (RabbitMQ acknowledges many deliveries in
one frame) rather than one round trip per event.

At most once a second (or every thousand events) it also publishes a manifest of the
stretch of the log it has published since the last one (``shared.contracts.Manifest``),
and stores how far manifests reach beside its position: after a crash the stretch not yet
in a manifest is read again from the log, so every published event is in some manifest.
"""
from __future__ import annotations

import logging
import os
import threading
import time
import zlib
from datetime import UTC, datetime
from typing import Any

import psycopg
from kombu import Connection, Producer
from psycopg import sql

from shared import metrics
from shared.config import Settings, fault
from shared.contracts import IntegrationEvent
from shared.contracts.manifest import MANIFEST_MAX_EVENTS, Manifest, ManifestEntry
from shared.eventstore import OnetripApplication
from shared.topology import events_exchange, manifests_exchange, subscriptions_of

log = logging.getLogger(__name__)

BATCH_SIZE = 200
CONFIRM_TIMEOUT_SECONDS = 30.0
MANIFEST_SECONDS = 1.0
Entry = tuple[int, str, str]  # notification id, event id, type


class BrokerRefusedError(Exception):
    """The broker nacked a publish: the batch is published again after reconnecting."""


class BatchConfirms:
    """Publisher confirms on one channel, awaited per batch.

    Each publish on a channel in confirm mode gets the next delivery tag; the broker
    acknowledges tags singly or, with ``multiple``, every tag up to one. ``wait`` reads
    frames until every tag sent is acknowledged, and fails on a nack or a timeout.
    """

    def __init__(self, channel: Any) -> None:
        self.channel = channel
        self.next_tag = 1
        self.unconfirmed: set[int] = set()
        self.refused = False
        channel.confirm_select()
        channel.events["basic_ack"].add(self._acked)
        channel.events["basic_nack"].add(self._nacked)

    def sent(self) -> None:
        self.unconfirmed.add(self.next_tag)
        self.next_tag += 1

    def _acked(self, tag: int, multiple: bool) -> None:
        if multiple:
            self.unconfirmed = {sent for sent in self.unconfirmed if sent > tag}
        else:
            self.unconfirmed.discard(tag)

    def _nacked(self, tag: int, multiple: bool) -> None:
        self.refused = True
        self._acked(tag, multiple)

    def wait(self, timeout: float = CONFIRM_TIMEOUT_SECONDS) -> None:
        deadline = time.monotonic() + timeout
        while self.unconfirmed and not self.refused:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"{len(self.unconfirmed)} publishes unconfirmed after {timeout}s")
            self.channel.connection.drain_events(timeout=remaining)
        if self.refused:
            raise BrokerRefusedError("the broker refused (nacked) a publish")


class ManifestDraft:
    """The stretch ``(after, through]`` of the log published since the last manifest."""

    def __init__(self, after: int) -> None:
        self.after = self.through = after
        self.entries: list[Entry] = []
        self.since: float | None = None

    def extend(self, entries: list[Entry], through: int) -> None:
        # (a relay set back to publish again lists only what no manifest listed yet)
        self.entries.extend(entry for entry in entries if entry[0] > self.after)
        self.through = max(self.through, through)
        if self.since is None:
            self.since = time.monotonic()

    @property
    def pending(self) -> bool:
        return self.through > self.after

    @property
    def full(self) -> bool:
        return len(self.entries) + BATCH_SIZE > MANIFEST_MAX_EVENTS

    def due_in(self) -> float:
        if self.since is None or not self.pending:
            return float("inf")
        return max(0.0, self.since + MANIFEST_SECONDS - time.monotonic())

    def manifest(self, service: str, application: str) -> Manifest:
        return Manifest(
            service=service,
            application=application,
            after=self.after,
            through=self.through,
            published_at=datetime.now(UTC),
            events=[ManifestEntry(notification_id=n, event_id=e, type=t) for n, e, t in self.entries],
        )


def entry_of(event: IntegrationEvent) -> Entry:
    return (event.notification_id, str(event.event_id), event.type)


class OutboxRelay:
    def __init__(self, app: OnetripApplication, settings: Settings | None = None) -> None:
        self.app = app
        self.settings = settings or Settings()
        self.recorder: Any = app.recorder
        self.schema: str = self.recorder.datastore.schema
        self.lock_key = zlib.crc32(f"onetrip-relay:{self.schema}:{app.name}".encode())
        self.exchange = events_exchange(app.service)
        self.manifests = manifests_exchange(app.service)
        self.draft = ManifestDraft(0)
        self._stop = threading.Event()
        self.is_leader = False
        self.position = 0
        self.published = 0
        metrics.GAUGES.register(
            "onetrip_relay_lag", "notifications in the log the relay has not yet handled",
            ["service", "application"], self.lag,
        )

    # -- lifecycle -------------------------------------------------------------

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        backoff = 0.2
        while not self._stop.is_set():
            try:
                self._lead_when_possible()
                backoff = 0.2
            except Exception as exc:  # noqa: BLE001 - any failure: drop everything, reconnect, resume
                self.is_leader = False
                log.warning("relay %s: %s; reconnecting in %.1fs", self.app.name, exc, backoff)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 5.0)

    def _lead_when_possible(self) -> None:
        with psycopg.connect(
            self.settings.database.conninfo(),
            autocommit=True,
            application_name=f"onetrip-relay-{self.app.name}-{os.getpid()}",
        ) as conn:
            while not self._stop.is_set():
                if self._try_lock(conn):
                    break
                self._stop.wait(0.2)
            else:
                return
            self.is_leader = True
            log.info("relay %s: active", self.app.name)
            try:
                self._relay(conn)
            finally:
                self.is_leader = False

    def _try_lock(self, conn: psycopg.Connection[Any]) -> bool:
        row = conn.execute("SELECT pg_try_advisory_lock(%s)", (self.lock_key,)).fetchone()
        return bool(row and row[0])

    # -- the loop ----------------------------------------------------------------

    def _relay(self, conn: psycopg.Connection[Any]) -> None:
        self._ensure_position_table(conn)
        self.position, manifested = self._load_position(conn)
        conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.recorder.channel_name)))
        # No "confirm_publish" transport option: that waits for each publish's confirm in
        # turn; BatchConfirms awaits a whole batch's.
        with Connection(self.settings.amqp_uri, heartbeat=30, connect_timeout=5) as amqp:
            amqp.ensure_connection(max_retries=1)
            producer = Producer(amqp.channel(), exchange=self.exchange)
            self.exchange(producer.channel).declare()
            self.manifests(producer.channel).declare()
            for subscription in subscriptions_of(self.app.service):
                subscription.queue()(producer.channel).declare()
            confirms = BatchConfirms(producer.channel)
            self._manifest_since(manifested, conn, producer, confirms)
            while not self._stop.is_set():
                while self._publish_batch(conn, producer, confirms):
                    pass
                if self.draft.due_in() == 0:
                    self._publish_manifest(conn, producer, confirms)
                amqp.heartbeat_check()
                # Wake on NOTIFY, or poll: a lost notification cannot stall the relay.
                wait = min(self.settings.relay_poll_seconds, self.draft.due_in())
                for _ in conn.notifies(timeout=wait, stop_after=1):
                    pass

    def _publish_batch(
        self, conn: psycopg.Connection[Any], producer: Producer, confirms: BatchConfirms
    ) -> bool:
        notifications = self.recorder.select_notifications(
            start=self.position, limit=BATCH_SIZE, inclusive_of_start=False
        )
        if not notifications:
            return False
        published: list[Entry] = []
        for notification in notifications:
            event = self.app.integration_event(notification)
            if event is None:
                continue
            producer.publish(
                event.to_wire(),
                routing_key=event.type,
                serializer="json",
                delivery_mode=2,
                message_id=str(event.event_id),
                type=event.type,
                headers={"onetrip-schema-version": event.schema_version},
                retry=False,
            )
            confirms.sent()
            published.append(entry_of(event))
        self.published += len(published)
        confirms.wait()
        for entry in published:
            metrics.EVENTS_PUBLISHED.labels(service=self.app.service, type=entry[2]).inc()
        fault("relay_after_confirm")
        self.position = notifications[-1].id
        self._save_position(conn, self.position)
        self.draft.extend(published, self.position)
        if self.draft.full:
            self._publish_manifest(conn, producer, confirms)
        return len(notifications) == BATCH_SIZE

    # -- manifests -------------------------------------------------------------------

    def _manifest_since(
        self, manifested: int, conn: psycopg.Connection[Any], producer: Producer, confirms: BatchConfirms
    ) -> None:
        """Start the draft where the manifests end: what was published after (before a crash
        or a takeover) is read again from the log, not published again."""
        self.draft = ManifestDraft(manifested)
        while self.draft.through < self.position:
            notifications = self.recorder.select_notifications(
                start=self.draft.through, limit=BATCH_SIZE, stop=self.position, inclusive_of_start=False
            )
            if not notifications:
                break
            events = (self.app.integration_event(notification) for notification in notifications)
            self.draft.extend([entry_of(e) for e in events if e is not None], notifications[-1].id)
            if self.draft.full:
                self._publish_manifest(conn, producer, confirms)

    def _publish_manifest(
        self, conn: psycopg.Connection[Any], producer: Producer, confirms: BatchConfirms
    ) -> None:
        manifest = self.draft.manifest(self.app.service, self.app.name)
        producer.publish(
            manifest.to_wire(),
            exchange=self.manifests,
            routing_key=self.app.name,
            serializer="json",
            delivery_mode=2,
            type="manifest",
            retry=False,
        )
        confirms.sent()
        confirms.wait()
        self._save_position(conn, self.position, manifested=manifest.through)
        self.draft = ManifestDraft(manifest.through)

    # -- position ------------------------------------------------------------------

    def lag(self) -> list[tuple[dict[str, str], float]]:
        """How many notifications lie after the saved position (any instance's reading)."""
        newest = self.recorder.max_notification_id() or 0
        with self.recorder.datastore.get_connection() as conn:
            row = conn.execute(
                sql.SQL("SELECT notification_id FROM {} WHERE application = %s").format(
                    self._position_table()
                ),
                (self.app.name,),
            ).fetchone()
        position = int(row["notification_id"] if isinstance(row, dict) else row[0]) if row else 0
        labels = {"service": self.app.service, "application": self.app.name}
        return [(labels, float(max(newest - position, 0)))]

    def _position_table(self) -> sql.Identifier:
        return sql.Identifier(self.schema, "relay_position")

    def _ensure_position_table(self, conn: psycopg.Connection[Any]) -> None:
        conn.execute(
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {} "
                "(application text PRIMARY KEY, notification_id bigint NOT NULL, "
                "updated_at timestamptz NOT NULL DEFAULT now(), manifested_through bigint)"
            ).format(self._position_table())
        )
        # (a table made before manifests existed)
        conn.execute(
            sql.SQL("ALTER TABLE {} ADD COLUMN IF NOT EXISTS manifested_through bigint").format(
                self._position_table()
            )
        )

    def _load_position(self, conn: psycopg.Connection[Any]) -> tuple[int, int]:
        """The position and how far manifests reach. A relay that published before manifests
        existed starts them at its position: the history before is not announced."""
        row = conn.execute(
            sql.SQL("SELECT notification_id, manifested_through FROM {} WHERE application = %s").format(
                self._position_table()
            ),
            (self.app.name,),
        ).fetchone()
        if row is None:
            self._save_position(conn, 0, manifested=0)
            return 0, 0
        position = int(row[0])
        if row[1] is None:
            self._save_position(conn, position, manifested=position)
            return position, position
        return position, int(row[1])

    def _save_position(
        self, conn: psycopg.Connection[Any], position: int, manifested: int | None = None
    ) -> None:
        conn.execute(
            sql.SQL(
                "INSERT INTO {} (application, notification_id, manifested_through) VALUES (%s, %s, %s) "
                "ON CONFLICT (application) DO UPDATE "
                "SET notification_id = EXCLUDED.notification_id, updated_at = now(), "
                "manifested_through = COALESCE(EXCLUDED.manifested_through, {}.manifested_through)"
            ).format(self._position_table(), sql.Identifier("relay_position")),
            (self.app.name, position, manifested),
        )
