"""What every onetrip nameko service has in common."""
from __future__ import annotations

from typing import Any

from shared.rpc import rpc


class HealthCheckMixin:
    name: str
    store: Any

    @rpc
    def health(self) -> dict[str, Any]:
        # Touch the event store, so "ok" means the database answers too.
        position = self.store.recorder.max_notification_id() or 0
        return {"service": self.name, "status": "ok", "events": position}
