from __future__ import annotations

import pytest

from services.gateway.auth import User, bearer_token, require_roles, require_staff
from services.gateway.http import UnauthorizedError
from shared.errors import ForbiddenError
from shared.roles import EDITOR, PUBLISHER, REVIEWER

editor_of_gzc = User("gzc", "国资处审批员", "gzc", ("approver", "editor"))
teacher = User("teacher1", "李老师", "hkxy", ("applicant",))
office = User("office", "学校办公室审核员", "xb", ("reviewer",))
party = User("party", "机关党委发布员", "jgdw", ("publisher",))


def test_an_editor_may_draft_but_not_review_or_publish() -> None:
    assert require_roles(editor_of_gzc, EDITOR) is editor_of_gzc
    with pytest.raises(ForbiddenError):
        require_roles(editor_of_gzc, REVIEWER)
    with pytest.raises(ForbiddenError):
        require_roles(editor_of_gzc, PUBLISHER)


def test_an_applicant_may_not_publish() -> None:
    with pytest.raises(ForbiddenError):
        require_roles(teacher, PUBLISHER)


def test_the_school_office_reviews_and_the_party_committee_publishes() -> None:
    assert require_roles(office, REVIEWER) is office
    assert require_roles(party, PUBLISHER) is party


def test_staff_is_anyone_with_a_role_beyond_applicant() -> None:
    assert all(require_staff(user) is user for user in (editor_of_gzc, office, party))
    with pytest.raises(ForbiddenError):
        require_staff(teacher)


def test_the_actor_sent_to_the_services_names_user_department_and_roles() -> None:
    assert editor_of_gzc.as_actor() == {
        "username": "gzc",
        "name": "国资处审批员",
        "department": "gzc",
        "roles": ["approver", "editor"],
    }


def test_a_bearer_header_yields_its_token_and_no_header_yields_none() -> None:
    assert bearer_token("Bearer abc.def.ghi") == "abc.def.ghi"
    assert bearer_token("bearer abc") == "abc"
    assert bearer_token(None) is None
    assert bearer_token("") is None


@pytest.mark.parametrize("header", ["Basic Z3pjOmd6Yw==", "Bearer", "Bearer   ", "abc"])
def test_any_other_authorization_header_is_401(header: str) -> None:
    with pytest.raises(UnauthorizedError):
        bearer_token(header)
