"""Domain errors shared by every service. Each maps to one HTTP status in the gateway
(``services.gateway.http.STATUSES``), whether raised there or received over RPC by name."""
from __future__ import annotations


class OnetripError(Exception):
    """Base of the errors a person can act on; ``retry_after`` says when trying again may work."""

    def __init__(self, detail: str = "", *, retry_after: int | None = None) -> None:
        super().__init__(detail)
        self.retry_after = retry_after

    @property
    def detail(self) -> str:
        return str(self)

    @property
    def headers(self) -> dict[str, str] | None:
        return None if self.retry_after is None else {"Retry-After": str(self.retry_after)}


class NotFoundError(OnetripError):
    pass


class ForbiddenError(OnetripError):
    pass


class ConflictError(OnetripError):
    pass


class InvalidError(OnetripError):
    """Well-formed but invalid (422)."""


class RateLimitedError(OnetripError):
    pass


class UntrustedCallerError(ForbiddenError):
    """An RPC request without a valid caller assertion, or acting for someone else (403)."""
