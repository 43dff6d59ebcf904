"""The one list of roles an account can hold, and what follows from holding them."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal

from shared.casefold import departments_of

APPLICANT = "applicant"
APPROVER = "approver"
EDITOR = "editor"
REVIEWER = "reviewer"
PUBLISHER = "publisher"
SUPERVISOR = "supervisor"
ADMIN = "admin"

Role = Literal["applicant", "approver", "editor", "reviewer", "publisher", "supervisor", "admin"]
ROLES: tuple[str, ...] = (APPLICANT, APPROVER, EDITOR, REVIEWER, PUBLISHER, SUPERVISOR, ADMIN)
STAFF_ROLES = frozenset(ROLES) - {APPLICANT}
ROLE_NAMES: dict[str, str] = {
    APPLICANT: "申请人",
    APPROVER: "审批人",
    EDITOR: "事项编辑",
    REVIEWER: "校办审核",
    PUBLISHER: "党委发布",
    SUPERVISOR: "纪委监督",
    ADMIN: "系统管理员",
}
"""How the pages and error messages name each role."""


def role_names(roles: Iterable[str]) -> str:
    return "、".join(ROLE_NAMES.get(role, role) for role in roles)


def is_staff(roles: Iterable[str]) -> bool:
    """Anyone holding a role beyond applicant works for the school."""
    return any(role != APPLICANT for role in roles)


def may_delegate(roles: Iterable[str]) -> bool:
    """Only an approver hands their department's decisions to a colleague (委托)."""
    return APPROVER in roles


def may_record_trip(roles: Iterable[str], department: str, case: Mapping[str, Any]) -> bool:
    """Staff of a department the case goes through register a trip its applicant made: the
    approval service refuses anyone else (``is_staff``; the case's ``departments_of``)."""
    return is_staff(roles) and department in departments_of(dict(case))
