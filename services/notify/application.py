from __future__ import annotations

from shared.eventstore import OnetripApplication


class NotifyApplication(OnetripApplication):
    name = "notify"
    service = "notify"
