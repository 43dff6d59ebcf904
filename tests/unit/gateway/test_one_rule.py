"""The pages ask the rules the services apply: a button a page offers is an action the service
takes, and one the service refuses is not offered."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from types import SimpleNamespace
from typing import get_args

import pytest
from nameko.testing.services import worker_factory

from services.approval.application import ApprovalApplication
from services.approval.service import ApprovalService
from services.gateway.auth import User
from services.gateway.models import UserView
from shared.errors import ForbiddenError, NotFoundError
from shared.roles import ROLES, Role, may_delegate, may_record_trip
from shared.workdays import SHANGHAI
from tests.unit.approval.support import IN_MEMORY, Clock, renovation_item, submit_complete

GZC = User("gzc", "国资处审批员", "gzc", ("approver", "editor"))
XXH_EDITOR = User("xxh-editor", "信息化处编辑", "xxh", ("editor",))
DISCIPLINE = User("discipline", "纪委办公室监督员", "jw", ("supervisor",))
TEACHER = User("teacher1", "李老师", "hkxy", ("applicant",))


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 11, 27, 9, 0, tzinfo=SHANGHAI))


@pytest.fixture
def app(clock: Clock) -> Iterator[ApprovalApplication]:
    application = ApprovalApplication(env=IN_MEMORY)
    application.learn_item(renovation_item(), now=clock.now())
    yield application
    application.close()


def recorded_by_the_service(app: ApprovalApplication, user: User, case_id: str) -> bool:
    app.inbox = SimpleNamespace(catch_up=lambda: None)
    service = worker_factory(ApprovalService, store=app)
    try:
        service.record_trip(user.as_actor(), case_id, {"purpose": "提交纸质图纸"})
    except (ForbiddenError, NotFoundError):
        return False
    return True


@pytest.mark.parametrize(
    ("user", "may"),
    [(GZC, True), (XXH_EDITOR, True), (DISCIPLINE, False), (TEACHER, False)],
    ids=["approver-in-the-case", "editor-of-a-department-in-the-case", "outside-staff", "applicant"],
)
def test_the_trip_button_is_offered_to_whom_the_approval_service_lets_record_a_trip(
    app: ApprovalApplication, clock: Clock, user: User, may: bool
) -> None:
    # Given 李老师's 公房装修改造申请, through 国资处, 基建处, 信息化处...
    case = submit_complete(app, clock)
    # When the case page decides whether to offer the button, and the person records a trip
    offered = may_record_trip(user.roles, user.department, case)
    recorded = recorded_by_the_service(app, user, case["case_id"])
    # Then the page and the service say the same (staff of a department in the case, approver
    # or not)
    assert offered is may
    assert recorded is may


def test_only_an_approver_is_offered_the_delegation_form_as_the_service_rules() -> None:
    assert may_delegate(GZC.roles)
    assert not may_delegate(XXH_EDITOR.roles)
    assert not may_delegate(DISCIPLINE.roles)


def test_the_roles_are_declared_once_and_the_api_documents_exactly_them() -> None:
    assert get_args(Role) == ROLES
    roles_schema = UserView.model_json_schema()["properties"]["roles"]["items"]
    assert tuple(roles_schema["enum"]) == ROLES
