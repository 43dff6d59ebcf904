"""The dispatcher: claims due SMS and e-mails, hands them to their sender, records the outcome.

At-least-once: the provider is called before the outcome is saved, and a crash in between
leaves the claim to expire and be taken again, with the same idempotency key, which the
provider de-duplicates. Failures come back after an exponential backoff with jitter, up
to ``max_attempts``; each notification is retried on its own schedule, so one that keeps
failing holds up nothing else.
"""
from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from services.notify.application import NotifyApplication, utcnow
from services.notify.domain import Notification
from services.notify.senders import DeliveryError, Outgoing, Sender
from services.notify.worktable import Claim, SmsLimits, WorkTable
from shared import metrics
from shared.config import NotifySettings, fault
from shared.logs import mask

log = logging.getLogger(__name__)

DAILY_LIMIT_REASON = "rate_limited: 该号码今日短信已达上限，仅站内信送达"
Mapper = Callable[[Callable[[Claim], str], Iterable[Claim]], Iterator[str]]


@dataclass(frozen=True)
class RetryPolicy:
    base_seconds: float = 5.0
    cap_seconds: float = 600.0
    max_attempts: int = 8
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, attempts_made: int) -> timedelta:
        ceiling = min(self.cap_seconds, self.base_seconds * 2 ** (attempts_made - 1))
        return timedelta(seconds=ceiling * self.rng.uniform(0.5, 1.0))

    def gives_up(self, attempts_made: int) -> bool:
        return attempts_made >= self.max_attempts


@dataclass(frozen=True)
class DispatchSettings:
    retry: RetryPolicy
    limits: SmsLimits
    lease_seconds: float = 30.0
    poll_seconds: float = 0.5
    batch: int = 20

    @classmethod
    def of(cls, settings: NotifySettings) -> DispatchSettings:
        return cls(
            retry=RetryPolicy(
                base_seconds=settings.retry_base_seconds,
                cap_seconds=settings.retry_cap_seconds,
                max_attempts=settings.max_attempts,
            ),
            limits=SmsLimits(
                min_interval_seconds=settings.sms_min_interval_seconds,
                per_day=settings.sms_daily_limit,
            ),
            lease_seconds=settings.lease_seconds,
            poll_seconds=settings.poll_seconds,
        )


class Dispatcher:
    def __init__(
        self,
        app: NotifyApplication,
        work: WorkTable,
        senders: Mapping[str, Sender],
        settings: DispatchSettings,
        mapper: Mapper | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.app = app
        self.work = work
        self.senders = senders
        self.settings = settings
        self.map: Mapper = mapper or map
        self.clock = clock
        self._wake = threading.Event()
        self._stop = threading.Event()

    # -- the loop ----------------------------------------------------------------------------

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def run(self) -> None:
        while not self._stop.is_set():
            try:
                busy = self.tick()
            except Exception:
                log.exception("dispatcher tick failed; trying again")
                busy = False
            if not busy:
                self._wake.wait(self.settings.poll_seconds)
                self._wake.clear()

    def tick(self) -> int:
        """Catches up, claims one batch and delivers it; returns how many it delivered."""
        self.work.catch_up()
        claims = self.work.claim(self.settings.batch, self.settings.lease_seconds, self.settings.limits)
        return len(list(self.map(self.deliver, claims)))

    # -- one notification ----------------------------------------------------------------------

    def deliver(self, claim: Claim) -> str:
        notification = self.app.notification(claim.notification_id)
        if not notification.is_open:
            self.work.finish(notification.id, notification.status)
            return notification.status
        outcome = self._deliver(notification, claim)
        metrics.NOTIFICATIONS.labels(channel=notification.channel, outcome=outcome).inc()
        return outcome

    def _deliver(self, notification: Notification, claim: Claim) -> str:
        if claim.over_daily_limit:
            return self._give_up(notification, DAILY_LIMIT_REASON, attempts=0)
        try:
            receipt = self.senders[notification.channel].send(_outgoing(notification))
        except DeliveryError as exc:
            return self._attempt_failed(notification, exc)
        fault("notify_after_provider_accepted")
        self.app.record_sent(notification.id, receipt.provider_id, self.clock())
        self.work.finish(notification.id, "sent")
        log.info("sent %s %s to %s", notification.channel, notification.id, mask(notification.address))
        return "sent"

    def _attempt_failed(self, notification: Notification, exc: DeliveryError) -> str:
        attempts_made = notification.attempts + 1
        log.warning(
            "%s %s to %s failed (attempt %d): %s",
            notification.channel, notification.id, mask(notification.address), attempts_made,
            mask(exc.reason),
        )
        if exc.permanent or self.settings.retry.gives_up(attempts_made):
            return self._give_up(notification, exc.reason, attempts=1)
        now = self.clock()
        retry_at = now + self.settings.retry.delay(attempts_made)
        self.app.record_attempt_failed(notification.id, exc.reason, now, retry_at)
        self.work.retry_at(notification.id, retry_at)
        return "retrying"

    def _give_up(self, notification: Notification, reason: str, attempts: int) -> str:
        self.app.record_failed(notification.id, reason, self.clock(), attempts)
        self.work.finish(notification.id, "failed")
        log.error("%s %s failed for good: %s", notification.channel, notification.id, mask(reason))
        return "failed"


def _outgoing(notification: Notification) -> Outgoing:
    return Outgoing(
        address=notification.address,
        subject=notification.subject,
        text=notification.text,
        idempotency_key=notification.idempotency_key,
    )


def greenpool_mapper(size: int) -> Mapper:
    import eventlet

    pool = eventlet.GreenPool(size)

    def imap(function: Callable[[Claim], str], claims: Iterable[Claim]) -> Iterator[str]:
        return iter(pool.imap(function, claims))

    return imap


