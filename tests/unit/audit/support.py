"""Histories for the audit tests: the seed's renovation story told by the real approval
application, and generated histories of many cases as the approval service publishes them."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from services.approval.application import ApprovalApplication
from services.audit.hall import AuditHall
from shared.config import Settings
from shared.contracts import IntegrationEvent
from shared.contracts.catalogue import Item
from shared.eventstore import application_env, ensure_schema
from shared.workdays import SHANGHAI
from tests.unit.approval.support import (
    FORM,
    IN_MEMORY,
    LI_FILES,
    PARALLEL_DEPARTMENTS,
    RENOVATION,
    Clock,
    decide,
    renovation_item,
)

BWC_COMMENT = "请补充消防通道示意图，施工期间不得占用疏散通道。"
START = datetime(2026, 9, 1, 9, 0, tzinfo=SHANGHAI)


@contextmanager
def audit_application(database_url: str, checkpoint: Path) -> Iterator[AuditHall]:
    """The audit application on the test's own database, its checkpoint in the test's folder."""
    import os

    os.environ["ONETRIP_AUDIT_CHECKPOINT"] = str(checkpoint)
    settings = Settings(database_url=database_url)
    ensure_schema(settings.database, "audit")
    app = AuditHall(env=application_env("audit", settings))
    try:
        yield app
    finally:
        app.close()


@dataclass
class RenovationStory:
    events: list[IntegrationEvent]
    case_id: str
    returned_at: datetime
    resubmitted_at: datetime
    final_case: dict[str, Any]


def renovation_story() -> RenovationStory:
    """李老师's 公房装修改造申请: 保卫处 returns it, she resubmits, all approve, she rates it."""
    clock = Clock(datetime(2026, 11, 2, 9, 0, tzinfo=SHANGHAI))
    app = ApprovalApplication(env=IN_MEMORY)
    try:
        app.learn_item(renovation_item(), now=clock.now())
        case = app.submit(
            applicant="teacher1",
            applicant_department="hkxy",
            item_id=RENOVATION,
            form=FORM,
            materials={"改造前结构图": "file-before-li", "本次结构设计图": "file-design-li"},
            own_files=LI_FILES,
            now=clock.now(),
        )
        for department in ["gzc", "jjc", "xxh", "hq", "bmc"]:
            case = decide(app, clock, case, department)
        case = decide(app, clock, case, "bwc", "return", BWC_COMMENT)
        returned_at = clock.now()
        resubmitted_at = clock.advance(days=1)
        case = app.resubmit(
            case["case_id"],
            actor="teacher1",
            form=FORM,
            materials=None,
            own_files=LI_FILES,
            now=resubmitted_at,
        )
        for department in [*PARALLEL_DEPARTMENTS, "cwc"]:
            case = decide(app, clock, case, department)
        clock.advance(hours=2)
        case = app.rate(
            case["case_id"],
            score=5,
            comment="全程网上办理，一趟没跑",
            actor="teacher1",
            now=clock.now(),
        )
        events = [
            e
            for n in app.recorder.select_notifications(1, 10_000)
            if (e := app.integration_event(n))
        ]
        return RenovationStory(events, case["case_id"], returned_at, resubmitted_at, case)
    finally:
        app.close()


# -- generated histories ---------------------------------------------------------------------

LEADS = ["gzc", "xxh", "bwc", "hq", "cwc", "jjc"]
NODES = ["gzc", "jjc", "xxh", "hq", "bwc", "bmc", "cwc"]


@dataclass
class History:
    """Integration events as the approval service would publish them, case by case."""

    rng: random.Random
    events: list[IntegrationEvent] = field(default_factory=list)
    notification_id: int = 0

    def emit(self, case: dict[str, Any], kind: str, at: datetime, actor: str, **data: Any) -> None:
        self.notification_id += 1
        case["version"] += 1
        payload = {
            "case_id": case["case_id"],
            "item_id": case["item_id"],
            "item_name": case["item_name"],
            "applicant": case["applicant"],
            "lead_department": case["department"],
            "departments": [case["department"]],
            "at": at.isoformat(),
            **data,
        }
        self.events.append(
            IntegrationEvent.build(
                type=kind,
                service="approval",
                aggregate_id=case["uuid"],
                aggregate_version=case["version"],
                notification_id=self.notification_id,
                occurred_at=at,
                actor=actor,
                data=json.loads(json.dumps(payload, default=str)),
            )
        )


def generated_history(cases: int, seed: int = 7) -> list[IntegrationEvent]:
    history = History(random.Random(seed))
    for number in range(cases):
        _one_case(history, number)
    return history.events


def _one_case(history: History, number: int) -> None:
    rng = history.rng
    lead = rng.choice(LEADS)
    nodes = rng.sample(NODES, rng.randint(1, 3))
    at = START + timedelta(hours=number * 3 + rng.randint(0, 2))
    case = {
        "case_id": f"case-{number:04d}",
        "uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"case-{number}")),
        "item_id": f"item-{lead}",
        "item_name": f"{lead} 事项",
        "applicant": rng.choice(["teacher1", "teacher2", "student1"]),
        "department": lead,
        "version": 0,
    }
    due = at + timedelta(days=rng.choice([3, 10]))
    flow = {
        "stages": [
            {
                "name": "审批",
                "nodes": [{"node_id": n, "department": n, "time_limit_days": 2} for n in nodes],
            }
        ]
    }
    history.emit(
        case,
        "case_submitted",
        at,
        case["applicant"],
        item_version=1,
        department=lead,
        applicant_department="hkxy",
        form={"事由": "申请"},
        materials={},
        item_materials=[],
        flow=flow,
        trips=0,
        time_limit_days=10,
        round=1,
        submitted_at=at.isoformat(),
        due_at=due.isoformat(),
    )
    for node in nodes:
        history.emit(
            case,
            "node_opened",
            at,
            "system",
            node_id=node,
            department=node,
            stage="审批",
            stage_index=0,
            task_id=f"{case['case_id']}-{node}",
            round=1,
            opened_at=at.isoformat(),
            due_at=(at + timedelta(days=2)).isoformat(),
        )
    at = _review(history, case, nodes, at)
    if at is None:
        return
    for _ in range(rng.choice([0, 0, 0, 1, 1, 2, 3])):
        at += timedelta(minutes=30)
        history.emit(
            case,
            "trip_recorded",
            at,
            lead,
            purpose="提交纸质材料",
            recorded_by=lead,
            department=lead,
            trip_count=0,
            trips_promised=0,
        )
    _close(history, case, at)


def _review(
    history: History, case: dict[str, Any], nodes: list[str], at: datetime
) -> datetime | None:
    rng = history.rng
    for round_ in (1, 2):
        for node in nodes:
            at += timedelta(hours=rng.randint(1, 40))
            if rng.random() < 0.15:
                history.emit(
                    case,
                    "node_overdue",
                    at,
                    "system",
                    node_id=node,
                    department=node,
                    task_id=None,
                    due_at=at.isoformat(),
                )
            decision = "return" if round_ == 1 and rng.random() < 0.2 else "approve"
            history.emit(
                case,
                "node_decided",
                at,
                node,
                node_id=node,
                department=node,
                task_id=None,
                decision=decision,
                comment="请补充材料" if decision == "return" else "",
                decided_by=node,
                on_behalf_of=None,
                decided_at=at.isoformat(),
            )
            if decision == "return":
                comments = [{"node_id": node, "department": node, "comment": "请补充材料"}]
                history.emit(
                    case,
                    "case_returned",
                    at,
                    node,
                    stage="审批",
                    stage_index=0,
                    round=1,
                    comments=comments,
                )
                if rng.random() < 0.25:
                    return None  # still with the applicant
                at += timedelta(hours=rng.randint(2, 30))
                history.emit(
                    case,
                    "case_resubmitted",
                    at,
                    case["applicant"],
                    round=2,
                    form={},
                    materials={},
                    due_at=(at + timedelta(days=5)).isoformat(),
                )
                for again in nodes:
                    history.emit(
                        case,
                        "node_opened",
                        at,
                        "system",
                        node_id=again,
                        department=again,
                        stage="审批",
                        stage_index=0,
                        task_id=f"{case['case_id']}-{again}-2",
                        round=2,
                        opened_at=at.isoformat(),
                        due_at=(at + timedelta(days=2)).isoformat(),
                    )
                break
        else:
            return at
    return at


def _close(history: History, case: dict[str, Any], at: datetime) -> None:
    rng = history.rng
    if rng.random() < 0.1:
        return  # not finished yet
    kind = rng.choices(["case_approved", "case_rejected", "case_withdrawn"], [80, 12, 8])[0]
    at += timedelta(hours=1)
    history.emit(
        case,
        kind,
        at,
        case["applicant"] if kind == "case_withdrawn" else "cwc",
        item_version=1,
        round=1,
        closed_at=at.isoformat(),
        trip_count=0,
        trips_promised=0,
    )
    if kind != "case_withdrawn" and rng.random() < 0.6:
        score = rng.choice([1, 2, 3, 4, 5, 5, 5, 4])
        history.emit(
            case,
            "case_rated",
            at + timedelta(hours=3),
            case["applicant"],
            score=score,
            comment="办理很慢" if score <= 2 else "满意",
            bad_review=score <= 2,
        )


def item_published(
    item_id: str, department: str, trips: int, mode: str, notification_id: int
) -> IntegrationEvent:
    """A published item as the catalogue's contract (``Item``) carries it."""
    item = Item(
        item_id=item_id, name=f"{department} 事项", department=department, trips=trips,
        mode=mode, version=1, status="published", description="", current_state="",
        coordination=[], target={"mode": mode}, materials=[], notes=[], contacts=[],
        time_limit_days=10, one_trip_note="", lead_department=department,
        flow={"stages": [{"name": "审批", "nodes": [{"department": department}]}]},
    )
    return IntegrationEvent.build(
        type="item_published",
        service="catalogue",
        aggregate_id=item_id,
        aggregate_version=1,
        notification_id=notification_id,
        occurred_at=START,
        actor="party",
        data=item.model_dump(mode="json"),
    )
