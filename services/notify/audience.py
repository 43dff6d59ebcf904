"""Who hears what: from an integration event to the deliveries it asks for."""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from services.notify.directory import Contact, Directory
from services.notify.messages import Templates
from shared.contracts import IntegrationEvent
from shared.contracts import case_events as contract
from shared.logs import mask
from shared.roles import APPROVER, EDITOR

log = logging.getLogger(__name__)

Data = Mapping[str, Any]
CaseRule = Callable[[Any, Directory], list[str]]
ItemRule = Callable[[Data, Directory], list[str]]

# The final outcome reaches the applicant whatever the rate limits say.
FINAL_OUTCOMES = frozenset({contract.CaseApproved.event_type, contract.CaseRejected.event_type})


@dataclass(frozen=True)
class Delivery:
    recipient: str
    channel: str
    address: str
    subject: str
    text: str
    case_id: str | None
    final: bool


def applicant(event: contract.CaseEvent, directory: Directory) -> list[str]:
    return [event.applicant]


def approvers(department: str, directory: Directory) -> list[str]:
    return directory.department_members(department, APPROVER)


def node_approvers(event: contract.NodeOpened | contract.NodeOverdue, directory: Directory) -> list[str]:
    return approvers(event.department, directory)


def urged_approvers(event: contract.CaseUrged, directory: Directory) -> list[str]:
    return [user for department in event.departments for user in approvers(department, directory)]


def overdue_audience(event: contract.NodeOverdue, directory: Directory) -> list[str]:
    """The node's approvers, and the lead department's, who answer for the whole case."""
    return node_approvers(event, directory) + approvers(event.lead_department, directory)


def editors(data: Data, directory: Directory) -> list[str]:
    return directory.department_members(data["department"], EDITOR)


CASE_RULES: dict[type[contract.CaseEvent], CaseRule] = {
    contract.CaseIntakeRejected: applicant,
    contract.CaseReturned: applicant,
    contract.CaseApproved: applicant,
    contract.CaseRejected: applicant,
    contract.CaseWithdrawn: applicant,
    contract.NodeOpened: node_approvers,
    contract.CaseUrged: urged_approvers,
    contract.NodeOverdue: overdue_audience,
}
CASE_EVENTS_UNHEARD = frozenset({
    contract.CaseSubmitted,
    contract.NodeDecided,
    contract.NodeCancelled,
    contract.CaseResubmitted,
    contract.TripRecorded,
    contract.CaseRated,
})
ITEM_RULES: dict[str, ItemRule] = {
    "item_returned": editors,
    "item_reviewed": editors,
}
HEARD = frozenset({event.event_type for event in CASE_RULES} | set(ITEM_RULES))
"""The wire types of the events somebody hears about (each has its templates)."""


def addresses(contact: Contact) -> list[tuple[str, str]]:
    found = [("inbox", contact.username)]
    if contact.phone:
        found.append(("sms", contact.phone))
    if contact.email:
        found.append(("email", contact.email))
    return found


def message_context(event: IntegrationEvent) -> dict[str, Any]:
    data = dict(event.data)
    data.setdefault("case_id", None)
    data.setdefault("item_name", data.get("name") or data.get("item_id", ""))
    return data


def audience(event: IntegrationEvent, directory: Directory) -> list[str]:
    """Who hears of an event: a case event's rule gets the typed contract event."""
    case_event_class = contract.CASE_EVENTS.get(event.type)
    if case_event_class is None:
        item_rule = ITEM_RULES.get(event.type)
        return [] if item_rule is None else item_rule(event.data, directory)
    case_rule = CASE_RULES.get(case_event_class)
    return [] if case_rule is None else case_rule(case_event_class.model_validate(event.data), directory)


def plan(event: IntegrationEvent, directory: Directory, templates: Templates) -> list[Delivery]:
    if event.type not in HEARD:
        return []
    context = message_context(event)
    deliveries: list[Delivery] = []
    for contact in _contacts(audience(event, directory), directory):
        deliveries.extend(_deliveries_to(contact, event.type, context, templates))
    return deliveries


def _contacts(usernames: Iterable[str], directory: Directory) -> list[Contact]:
    contacts = []
    for username in dict.fromkeys(usernames):
        contact = directory.contact(username)
        if contact is None:
            log.warning("no account %s to notify", mask(username))
            continue
        contacts.append(contact)
    return contacts


def _deliveries_to(
    contact: Contact, kind: str, context: dict[str, Any], templates: Templates
) -> list[Delivery]:
    deliveries = []
    for channel, address in addresses(contact):
        if not templates.has(kind, channel):
            continue
        rendered = templates.render(kind, channel, {**context, "recipient": contact})
        deliveries.append(
            Delivery(
                recipient=contact.username,
                channel=channel,
                address=address,
                subject=rendered.subject,
                text=rendered.text,
                case_id=context.get("case_id"),
                final=kind in FINAL_OUTCOMES,
            )
        )
    return deliveries
