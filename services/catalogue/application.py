from __future__ import annotations

from shared.eventstore import OnetripApplication


class CatalogueApplication(OnetripApplication):
    name = "catalogue"
    service = "catalogue"
