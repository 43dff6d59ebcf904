from __future__ import annotations

from shared.eventstore import OnetripApplication


class ApprovalApplication(OnetripApplication):
    name = "approval"
    service = "approval"
