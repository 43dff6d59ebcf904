"""Domain errors shared by every service. Each maps to one HTTP status in the gateway."""
from __future__ import annotations


class OnetripError(Exception):
    """Base of the errors a person can act on."""


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
