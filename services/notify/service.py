from __future__ import annotations

from services.notify.application import NotifyApplication
from shared.dependencies import EventStore
from shared.service import HealthCheckMixin


class NotifyService(HealthCheckMixin):
    name = "notify"

    store: NotifyApplication = EventStore(NotifyApplication)  # type: ignore[assignment]
