"""The base of every answer a service gives (HTTP responses and RPC results): a reader ignores
fields it does not know, so a service may add one without breaking its callers."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Response(BaseModel):
    model_config = ConfigDict(extra="ignore")
