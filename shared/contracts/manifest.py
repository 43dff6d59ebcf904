"""What a relay says it published: the manifest of a stretch of its notification log.

After the broker confirmed the events of one or more batches, the relay publishes on
``<service>.manifests`` (routing key: the application's name) which of the notifications
``(after, through]`` became integration events. Notifications not listed stayed private,
so gaps in the listed ids are normal. A relay that restarts may publish the same stretch
again; readers treat manifests as sets (``services/audit/LEDGER.md``).
"""

from __future__ import annotations

import uuid
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

MANIFEST_MAX_EVENTS = 1_000
EventType = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[a-z][a-z0-9_]*$")]


class ManifestEntry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    notification_id: int = Field(ge=1)
    event_id: uuid.UUID
    type: EventType


class Manifest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    service: str = Field(min_length=1, max_length=50, pattern=r"^[a-z][a-z0-9_]*$")
    application: str = Field(min_length=1, max_length=100)
    after: int = Field(ge=0)
    through: int = Field(ge=1)
    published_at: AwareDatetime
    events: list[ManifestEntry] = Field(max_length=MANIFEST_MAX_EVENTS)

    @model_validator(mode="after")
    def _within_its_stretch(self) -> Manifest:
        if self.through <= self.after:
            raise ValueError("through must be after after")
        if any(not self.after < entry.notification_id <= self.through for entry in self.events):
            raise ValueError("every listed notification lies in (after, through]")
        return self

    def to_wire(self) -> dict[str, object]:
        return self.model_dump(mode="json")
