from __future__ import annotations

from services.audit.application import AuditApplication
from shared.dependencies import EventStore
from shared.service import HealthCheckMixin


class AuditService(HealthCheckMixin):
    name = "audit"

    store: AuditApplication = EventStore(AuditApplication)  # type: ignore[assignment]
