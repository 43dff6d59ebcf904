"""Who people are and how to reach them: the gateway's identity, behind a small interface."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class Contact:
    username: str
    name: str
    department: str
    phone: str | None = None
    email: str | None = None

    @classmethod
    def from_dict(cls, found: dict[str, Any]) -> Contact:
        return cls(
            username=found["username"],
            name=found.get("name") or found["username"],
            department=found.get("department") or "",
            phone=found.get("phone") or None,
            email=found.get("email") or None,
        )


class Directory(Protocol):
    def contact(self, username: str) -> Contact | None: ...

    def department_members(self, department: str, role: str | None = None) -> list[str]: ...


class RpcDirectory:
    """``gateway.contact`` and ``gateway.department_members`` over nameko RPC."""

    def __init__(self, gateway: Any) -> None:
        self.gateway = gateway

    def contact(self, username: str) -> Contact | None:
        try:
            return Contact.from_dict(self.gateway.contact(username))
        except Exception as exc:  # nameko's RemoteError names the remote class
            if getattr(exc, "exc_type", None) == "NotFoundError":
                return None
            raise

    def department_members(self, department: str, role: str | None = None) -> list[str]:
        return list(self.gateway.department_members(department, role))


class ContactCache:
    """Keeps answers for a short while: a burst of events asks about the same people."""

    def __init__(self, ttl_seconds: float = 30.0) -> None:
        self.ttl = ttl_seconds
        self._entries: dict[tuple[str, ...], tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple[str, ...]) -> tuple[bool, Any]:
        with self._lock:
            entry = self._entries.get(key)
        if entry is None or entry[0] < time.monotonic():
            return False, None
        return True, entry[1]

    def put(self, key: tuple[str, ...], value: Any) -> None:
        with self._lock:
            self._entries[key] = (time.monotonic() + self.ttl, value)


class CachedDirectory:
    def __init__(self, inner: Directory, cache: ContactCache) -> None:
        self.inner = inner
        self.cache = cache

    def contact(self, username: str) -> Contact | None:
        return self._cached(("contact", username), lambda: self.inner.contact(username))

    def department_members(self, department: str, role: str | None = None) -> list[str]:
        key = ("members", department, role or "")
        return list(self._cached(key, lambda: self.inner.department_members(department, role)))

    def _cached(self, key: tuple[str, ...], load: Any) -> Any:
        found, value = self.cache.get(key)
        if not found:
            value = load()
            self.cache.put(key, value)
        return value
