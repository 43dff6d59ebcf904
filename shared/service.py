"""What every onetrip nameko service has in common."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nameko.extensions import DependencyProvider
from nameko.timer import Timer

from shared.config import Settings, settings_of
from shared.rpc import rpc


class HealthCheckMixin:
    name: str
    store: Any

    @rpc
    def health(self) -> dict[str, Any]:
        # Touch the event store, so "ok" means the database answers too.
        position = self.store.outbox.recorder.max_notification_id() or 0
        return {"service": self.name, "status": "ok", "events": position}


class ProcessSettings(DependencyProvider):
    """The settings the process's composition root built (``shared.runner``)."""

    def get_dependency(self, worker_ctx: Any) -> Settings:
        return settings_of(self.container.config)


class SettingsTimer(Timer):
    """A timer whose interval is a setting, read when the container starts, not at import."""

    def __init__(self, interval_of: Callable[[Settings], float], **kwargs: Any) -> None:
        super().__init__(interval=0, **kwargs)
        self.interval_of = interval_of

    def setup(self) -> None:
        self.interval = self.interval_of(settings_of(self.container.config))
        super().setup()


every = SettingsTimer.decorator
