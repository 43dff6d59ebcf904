"""The approval service's smaller aggregates: the item versions cases are pinned to, the
published line of each item, keyed-command receipts, the old applicant index, delegations.

The case itself is ``services.approval.case``; the rules it applies, ``services.approval.rules``.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from eventsourcing.domain import Aggregate, event

from shared.errors import InvalidError, NotFoundError
from shared.workdays import in_shanghai

NAMESPACE = uuid.UUID("0d7b3c52-6a53-4b39-8f0e-2f1f6a7c9e21")


# -- the item versions cases are pinned to ---------------------------------------------


class ItemVersion(Aggregate):
    """One published version of a catalogue item, as learnt from ``item_published``."""

    @staticmethod
    def create_id(item_id: str, item_version: int) -> uuid.UUID:
        return item_version_id(item_id, item_version)

    @event("Learned")
    def __init__(
        self, item_id: str, item_version: int, item: dict[str, Any], timestamp: datetime
    ) -> None:
        self.item_id = item_id
        self.item_version = item_version
        self.item = item


def item_version_id(item_id: str, version: int) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"item-version:{item_id}:{version}")


class PublishedItem(Aggregate):
    """Which version of an item new cases are submitted against, if any."""

    @staticmethod
    def create_id(item_id: str) -> uuid.UUID:
        return published_item_id(item_id)

    @event("Tracked")
    def __init__(self, item_id: str, timestamp: datetime) -> None:
        self.item_id = item_id
        self.current_version: int | None = None
        self.known_versions: list[int] = []

    def learn(self, version: int, now: datetime) -> bool:
        if version in self.known_versions:
            return False
        self._version_published(version=version, timestamp=now)
        return True

    @event("VersionPublished")
    def _version_published(self, version: int, timestamp: datetime) -> None:
        self.known_versions.append(version)
        self.current_version = max(self.known_versions)

    def retire(self, version: int | None, now: datetime) -> None:
        if self.current_version is not None and version in (None, self.current_version):
            self._retired(version=self.current_version, timestamp=now)

    @event("Retired")
    def _retired(self, version: int, timestamp: datetime) -> None:
        self.current_version = None


def published_item_id(item_id: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"published-item:{item_id}")


# -- who applied for what --------------------------------------------------------------


class ApplicantCases(Aggregate):
    """The index of one applicant's cases, newest last: no longer written (the inbox's
    ``applicant_cases`` table answers, without every submit of one applicant contending for
    one aggregate). Kept so that stores written before can still be read and replayed."""

    @staticmethod
    def create_id(applicant: str) -> uuid.UUID:
        return applicant_cases_id(applicant)

    @event("Started")
    def __init__(self, applicant: str, timestamp: datetime) -> None:
        self.applicant = applicant
        self.case_ids: list[str] = []

    @event("CaseAdded")
    def add(self, case_id: str, timestamp: datetime) -> None:
        self.case_ids.append(case_id)


def applicant_cases_id(applicant: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"applicant-cases:{applicant}")


# -- commands done once (Idempotency-Key) -----------------------------------------------


class Receipt(Aggregate):
    """A keyed command that took effect. Saved with its effect, so a retry of the same
    request (the same id) finds it and changes nothing; a concurrent one conflicts."""

    @staticmethod
    def create_id(request_id: str) -> uuid.UUID:
        return receipt_id(request_id)

    @event("Recorded")
    def __init__(self, request_id: str, case_id: str, timestamp: datetime) -> None:
        self.request_id = request_id
        self.case_id = case_id


def receipt_id(request_id: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"request:{request_id}")


def requested_case_id(request_id: str) -> str:
    """A keyed submission's case id follows from the request: a retry names the same case."""
    return str(uuid.uuid5(NAMESPACE, f"case-request:{request_id}"))


# -- delegation (委托) -------------------------------------------------------------------


@dataclass(frozen=True)
class Delegation:
    delegator: str
    delegate: str
    department: str
    starts_on: date
    ends_on: date

    def covers(self, department: str, day: date) -> bool:
        return self.department == department and self.starts_on <= day <= self.ends_on


class Delegations(Aggregate):
    """The delegations one colleague holds: whose decisions they may take, where, when."""

    @staticmethod
    def create_id(delegate: str) -> uuid.UUID:
        return delegations_id(delegate)

    @event("Started")
    def __init__(self, delegate: str, timestamp: datetime) -> None:
        self.delegate = delegate
        self.granted: list[dict[str, str]] = []

    def grant(
        self,
        *,
        delegator: str,
        department: str,
        starts_on: date,
        ends_on: date,
        now: datetime,
    ) -> Delegation:
        if delegator == self.delegate:
            raise InvalidError("不能委托给自己")
        if ends_on < starts_on:
            raise InvalidError("委托的结束日期不能早于开始日期")
        if ends_on < in_shanghai(now).date():
            raise InvalidError("委托的结束日期已经过去")
        self._granted(
            delegator=delegator,
            department=department,
            starts_on=starts_on.isoformat(),
            ends_on=ends_on.isoformat(),
            actor=delegator,
            timestamp=now,
        )
        return self.delegations[-1]

    @event("Granted")
    def _granted(
        self,
        delegator: str,
        department: str,
        starts_on: str,
        ends_on: str,
        actor: str,
        timestamp: datetime,
    ) -> None:
        self.granted.append(
            {
                "delegator": delegator,
                "department": department,
                "starts_on": starts_on,
                "ends_on": ends_on,
            }
        )

    def revoke(self, *, delegator: str, now: datetime) -> None:
        if not any(each["delegator"] == delegator for each in self.granted):
            raise NotFoundError("没有这项委托")
        self._revoked(delegator=delegator, actor=delegator, timestamp=now)

    @event("Revoked")
    def _revoked(self, delegator: str, actor: str, timestamp: datetime) -> None:
        self.granted = [each for each in self.granted if each["delegator"] != delegator]

    @property
    def delegations(self) -> list[Delegation]:
        return [
            Delegation(
                delegator=each["delegator"],
                delegate=self.delegate,
                department=each["department"],
                starts_on=date.fromisoformat(each["starts_on"]),
                ends_on=date.fromisoformat(each["ends_on"]),
            )
            for each in self.granted
        ]

    def delegator_for(self, department: str, moment: datetime) -> str | None:
        day = in_shanghai(moment).date()
        found = (each for each in self.delegations if each.covers(department, day))
        return next((each.delegator for each in found), None)


def delegations_id(delegate: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"delegations:{delegate}")
