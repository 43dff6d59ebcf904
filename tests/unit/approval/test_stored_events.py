"""Cases stored before the aggregate recorded the contract's events still load and publish."""
from __future__ import annotations

import uuid
from typing import Any

from eventsourcing.persistence import StoredEvent

from services.approval.application import ApprovalApplication
from tests.unit.approval.support import (
    IN_MEMORY,
    LI_FILES,
    Clock,
    decide,
    published,
    renovation_item,
    returned_by_bwc,
)

OLD_CASE_TOPIC = "services.approval.domain:Case"
OLD_EVENT_NAMES = {
    "case_submitted": "Submitted",
    "case_intake_rejected": "IntakeRejected",
    "node_opened": "NodeOpened",
    "node_decided": "NodeDecided",
    "node_cancelled": "NodeCancelled",
    "node_overdue": "NodeOverdue",
    "case_returned": "Returned",
    "case_resubmitted": "Resubmitted",
    "case_approved": "Approved",
    "case_rejected": "Rejected",
    "case_withdrawn": "Withdrawn",
    "case_urged": "Urged",
    "trip_recorded": "TripRecorded",
    "case_rated": "Rated",
}


def old_shaped(app: ApprovalApplication, stored: StoredEvent) -> StoredEvent:
    """The stored event as the aggregate wrote it before: ``Case.<Name>`` holding the
    published data as a dict, beside the actor and the timestamp."""
    state = app.mapper.transcoder.decode(stored.state)
    case_event = state.pop("event")
    old_state: dict[str, Any] = {
        "data": case_event.model_dump(mode="json"),
        "actor": state["actor"],
        "timestamp": state["timestamp"],
    }
    if "originator_topic" in state:
        old_state["originator_topic"] = OLD_CASE_TOPIC
    return StoredEvent(
        originator_id=stored.originator_id,
        originator_version=stored.originator_version,
        topic=f"{OLD_CASE_TOPIC}.{OLD_EVENT_NAMES[case_event.event_type]}",
        state=app.mapper.transcoder.encode(old_state),
    )


def test_a_case_stored_under_the_old_topics_loads_publishes_and_goes_on(
    app: ApprovalApplication, clock: Clock
) -> None:
    # Given 李老师's case told to the end: returned by 保卫处, resubmitted, urged, a trip, approved
    case = returned_by_bwc(app, clock)
    app.resubmit(case["case_id"], actor="teacher1", form=None, materials=None,
                 own_files=LI_FILES, now=clock.advance(hours=2))
    app.urge(case["case_id"], actor="teacher1", now=clock.advance(hours=1))
    app.record_trip(case["case_id"], purpose="现场核验房屋结构", actor="gzc",
                    actor_department="gzc", now=clock.advance(minutes=30))
    for department in ["gzc", "jjc", "xxh", "hq", "bwc", "bmc", "cwc"]:
        case = decide(app, clock, case, department)
    # And the same history written the old way into another store
    older = ApprovalApplication(env=IN_MEMORY)
    older.learn_item(renovation_item(), now=clock.now())
    stored = app.recorder.select_events(uuid.UUID(case["case_id"]))
    older.recorder.insert_events([old_shaped(app, each) for each in stored])
    try:
        # When the old store reads the case back
        # Then it is the same case, and it publishes the same integration events, byte for byte
        assert older.get_case(case["case_id"]) == app.get_case(case["case_id"])
        assert published(older, case["case_id"]) == published(app, case["case_id"])
        # And the old case takes new commands: 李老师 rates it
        rated = older.rate(case["case_id"], score=2, comment="等待时间较长", actor="teacher1",
                           now=clock.advance(hours=1))
        assert rated["rating"] == {"score": 2, "comment": "等待时间较长"}
        assert published(older, case["case_id"])[-1]["data"]["bad_review"] is True
    finally:
        older.close()
