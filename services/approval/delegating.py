"""Delegation (委托): an approver lets a colleague decide their department's nodes for a while."""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

from services.approval.domain import Delegations, delegations_id
from services.approval.store import ApprovalStore
from shared.errors import NotFoundError
from shared.eventstore import retry_on_conflict


class DelegationDesk(ApprovalStore):
    def delegate(
        self,
        *,
        delegator: str,
        department: str,
        delegate: str,
        starts_on: date,
        ends_on: date,
        now: datetime | None = None,
    ) -> dict[str, Any]:
        moment = self._now(now)

        def command() -> dict[str, Any]:
            book = self._delegations(delegate, moment)
            granted = book.grant(
                delegator=delegator,
                department=department,
                starts_on=starts_on,
                ends_on=ends_on,
                now=moment,
            )
            self.save(book)
            return _delegation_dict(granted)

        return retry_on_conflict(command)

    def revoke_delegation(
        self, *, delegator: str, delegate: str, now: datetime | None = None
    ) -> None:
        moment = self._now(now)

        def command() -> None:
            book = self._get_or_none(delegations_id(delegate))
            if book is None:
                raise NotFoundError("没有这项委托")
            book.revoke(delegator=delegator, now=moment)
            self.save(book)

        retry_on_conflict(command)

    def delegations_of(self, delegate: str) -> list[dict[str, Any]]:
        book = self._get_or_none(delegations_id(delegate))
        return [] if book is None else [_delegation_dict(each) for each in book.delegations]


    def _delegations(self, delegate: str, now: datetime) -> Delegations:
        book = self._get_or_none(delegations_id(delegate))
        return book or Delegations(delegate=delegate, timestamp=now)

    def _delegator(self, actor: str, department: str, now: datetime) -> str | None:
        book = self._get_or_none(delegations_id(actor))
        return None if book is None else book.delegator_for(department, now)


def _delegation_dict(delegation: Any) -> dict[str, Any]:
    return {
        "delegator": delegation.delegator,
        "delegate": delegation.delegate,
        "department": delegation.department,
        "starts_on": delegation.starts_on.isoformat(),
        "ends_on": delegation.ends_on.isoformat(),
    }

