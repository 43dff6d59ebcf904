"""The envelope every integration event travels in.

Other campus systems consume these messages: the envelope is a published promise.
A change that breaks a reader needs a new ``schema_version``.
"""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

SCHEMA_VERSION = 1
EVENT_ID_NAMESPACE = uuid.UUID("6f1c1f36-5d0e-4a43-9d43-0b8d1f0e7a11")


def event_id_for(service: str, aggregate_id: str, aggregate_version: int) -> uuid.UUID:
    """Stable across re-publication, so a consumer may also de-duplicate by it."""
    return uuid.uuid5(EVENT_ID_NAMESPACE, f"{service}:{aggregate_id}:{aggregate_version}")


class IntegrationEvent(BaseModel):
    # A reader ignores fields it does not know: a field added to the envelope is no break.
    model_config = ConfigDict(frozen=True, extra="ignore")

    event_id: uuid.UUID
    type: str = Field(min_length=1, max_length=100, pattern=r"^[a-z][a-z0-9_]*$")
    schema_version: int = Field(ge=1)
    occurred_at: AwareDatetime
    service: str = Field(min_length=1, max_length=50)
    aggregate_id: str = Field(min_length=1, max_length=200)
    aggregate_version: int = Field(ge=1)
    notification_id: int = Field(ge=1)
    actor: str | None = None
    data: dict[str, Any]
    correlation_id: str | None = Field(
        default=None, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{7,63}$",
        description="引起本事件的请求的关联编号（跨服务追踪同一办件的处理过程）",
    )

    @classmethod
    def build(
        cls,
        *,
        type: str,
        service: str,
        aggregate_id: str,
        aggregate_version: int,
        notification_id: int,
        occurred_at: datetime,
        actor: str | None,
        data: dict[str, Any],
        correlation_id: str | None = None,
        schema_version: int = SCHEMA_VERSION,
    ) -> IntegrationEvent:
        return cls(
            event_id=event_id_for(service, aggregate_id, aggregate_version),
            type=type,
            schema_version=schema_version,
            occurred_at=occurred_at,
            service=service,
            aggregate_id=aggregate_id,
            aggregate_version=aggregate_version,
            notification_id=notification_id,
            actor=actor,
            data=data,
            correlation_id=correlation_id,
        )

    def to_wire(self) -> dict[str, Any]:
        return self.model_dump(mode="json")
