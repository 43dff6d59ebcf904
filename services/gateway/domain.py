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


SUBJECT_NAMESPACE = uuid.UUID("5d0c2f4e-8a41-4b7e-9c1a-2f6e3b8d7a10")


def subject_link_id(issuer: str, subject: str) -> uuid.UUID:
    """A single sign-on subject's link follows from the provider and the subject."""
    return uuid.uuid5(SUBJECT_NAMESPACE, f"{issuer}\n{subject}")


class SubjectLink(Aggregate):
    """Which account a campus single sign-on subject signs in as: by the stored subject
    (the provider's ``sub``, CAS's user), never by a name alone."""

    @staticmethod
    def create_id(issuer: str, subject: str) -> uuid.UUID:
        return subject_link_id(issuer, subject)

    @event("Created")
    def __init__(self, issuer: str, subject: str) -> None:
        self.issuer = issuer
        self.subject = subject
        self.username: str | None = None

    @event("Linked")
    def link(self, username: str, actor: str) -> None:
        self.username = username

    @event("Unlinked")
    def unlink(self, actor: str) -> None:
        self.username = None
