"""Who hears what: from an integration event to the deliveries it asks for."""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from services.notify.directory import Contact, Directory
from services.notify.messages import Templates
from shared.contracts import IntegrationEvent
from shared.logs import mask

log = logging.getLogger(__name__)

Data = Mapping[str, Any]
Rule = Callable[[Data, Directory], list[str]]

# The final outcome reaches the applicant whatever the rate limits say.
FINAL_OUTCOMES = frozenset({"case_approved", "case_rejected"})


@dataclass(frozen=True)
class Delivery:
    recipient: str
    channel: str
    address: str
    subject: str
    text: str
    case_id: str | None
    final: bool


def applicant(data: Data, directory: Directory) -> list[str]:
    return [data["applicant"]]


def approvers(department: str, directory: Directory) -> list[str]:
    return directory.department_members(department, "approver")


def node_approvers(data: Data, directory: Directory) -> list[str]:
    return approvers(data["department"], directory)


def urged_approvers(data: Data, directory: Directory) -> list[str]:
    return [user for department in data["departments"] for user in approvers(department, directory)]


def overdue_audience(data: Data, directory: Directory) -> list[str]:
    return node_approvers(data, directory) + lead_head(data["lead_department"], directory)


def lead_head(department: str, directory: Directory) -> list[str]:
    return directory.department_members(department, "head") or approvers(department, directory)


def editors(data: Data, directory: Directory) -> list[str]:
    return directory.department_members(data["department"], "editor")


RULES: dict[str, Rule] = {
    "case_intake_rejected": applicant,
    "case_returned": applicant,
    "case_approved": applicant,
    "case_rejected": applicant,
    "case_withdrawn": applicant,
    "node_opened": node_approvers,
    "case_urged": urged_approvers,
    "node_overdue": overdue_audience,
    "item_returned": editors,
    "item_reviewed": editors,
}


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


def plan(event: IntegrationEvent, directory: Directory, templates: Templates) -> list[Delivery]:
    rule = RULES.get(event.type)
    if rule is None:
        return []
    context = message_context(event)
    deliveries: list[Delivery] = []
    for contact in _contacts(rule(event.data, directory), directory):
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
