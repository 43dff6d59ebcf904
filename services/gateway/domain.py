"""Accounts of the service hall: who someone is, where they work, what they may do."""

from __future__ import annotations

import uuid

from eventsourcing.domain import Aggregate, event

ACCOUNT_NAMESPACE = uuid.UUID("0b7f8a52-3c1e-4f0e-9a55-6d2c1c3e9b41")



def account_id(username: str) -> uuid.UUID:
    """An account's id follows from its username, so finding one needs no index."""
    return uuid.uuid5(ACCOUNT_NAMESPACE, username)


class Account(Aggregate):
    @staticmethod
    def create_id(username: str) -> uuid.UUID:
        return account_id(username)

    @event("Registered")
    def __init__(
        self,
        username: str,
        name: str,
        department: str,
        roles: list[str],
        phone: str,
        email: str | None,
        password_hash: str | None,
        actor: str,
    ) -> None:
        self.username = username
        self.name = name
        self.department = department
        self.roles = list(roles)
        self.phone = phone
        self.email = email
        self.password_hash = password_hash
        self.registered_by = actor
