from __future__ import annotations

from services.catalogue.application import CatalogueApplication
from shared.dependencies import EventStore
from shared.service import HealthCheckMixin


class CatalogueService(HealthCheckMixin):
    name = "catalogue"

    store: CatalogueApplication = EventStore(CatalogueApplication)  # type: ignore[assignment]
