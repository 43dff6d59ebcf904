"""The case vocabulary is declared once, in ``shared.contracts.case_events``; every consumer
registers what it does for each event class, or says that it ignores it."""
from __future__ import annotations

from services.approval.inbox import TaskInbox
from services.audit import supervision
from services.gateway.web import labels
from services.notify import audience
from shared import casefold
from shared.contracts.case_events import CASE_EVENTS, CaseEvent

NOTHING_IGNORED: frozenset[type[CaseEvent]] = frozenset()
CONSUMERS = {
    "the shared fold (shared.casefold.HANDLERS)": (casefold.HANDLERS, NOTHING_IGNORED),
    "the approval inbox (TaskInbox.HANDLERS)": (TaskInbox.HANDLERS, TaskInbox.IGNORES),
    "audit's supervision facts (supervision.CASE_FACTS)": (
        supervision.CASE_FACTS, supervision.CASE_FACTS_IGNORE
    ),
    "notify's rules (audience.CASE_RULES)": (audience.CASE_RULES, audience.CASE_EVENTS_UNHEARD),
    "the page labels (labels.EVENTS)": (labels.EVENTS, NOTHING_IGNORED),
}


def declared_event_classes() -> set[type[CaseEvent]]:
    found: set[type[CaseEvent]] = set()
    waiting = list(CaseEvent.__subclasses__())
    while waiting:
        event_class = waiting.pop()
        waiting.extend(event_class.__subclasses__())
        if "event_type" in vars(event_class):
            found.add(event_class)
    return found


def test_every_consumer_handles_every_case_event_or_says_it_ignores_it() -> None:
    # Given every case event the contract declares (each class with a wire name is registered)
    every = set(CASE_EVENTS.values())
    assert declared_event_classes() == every, "a CaseEvent with an event_type is not in CASE_EVENTS"
    assert all(CASE_EVENTS[event.event_type] is event for event in every)
    # When each consumer's registrations are read
    gaps = {}
    for consumer, (handled, ignored) in CONSUMERS.items():
        unanswered = sorted(e.__name__ for e in every - set(handled) - ignored)
        both = sorted(e.__name__ for e in set(handled) & ignored)
        strangers = sorted(e.__name__ for e in (set(handled) | ignored) - every)
        if unanswered or both or strangers:
            gaps[consumer] = {"unanswered": unanswered, "handled and ignored": both,
                              "not case events": strangers}
    # Then each one handles every event or ignores it explicitly, never both
    assert gaps == {}
