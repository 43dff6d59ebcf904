from __future__ import annotations

from shared.eventstore import OnetripApplication


class AuditApplication(OnetripApplication):
    name = "audit"
    service = "audit"
