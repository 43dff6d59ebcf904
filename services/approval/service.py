from __future__ import annotations

from services.approval.application import ApprovalApplication
from shared.dependencies import EventStore
from shared.service import HealthCheckMixin


class ApprovalService(HealthCheckMixin):
    name = "approval"

    store: ApprovalApplication = EventStore(ApprovalApplication)  # type: ignore[assignment]
