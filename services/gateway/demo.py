"""The demo accounts of ../shared/contract/demo-data.md, seeded once however many gateways start."""

from __future__ import annotations

import logging
import zlib
from collections.abc import Callable

import psycopg

from services.gateway.application import IdentityApplication
from services.gateway.models import AccountDraft
from services.gateway.passwords import hash_password

log = logging.getLogger(__name__)

DEMO_PASSWORD = "onetrip-demo"
SEED_LOCK = zlib.crc32(b"onetrip-demo-seed:gateway:identity")
SEEDER = "demo-seed"


def _account(username: str, name: str, department: str, roles: str, phone: str) -> AccountDraft:
    return AccountDraft(
        username=username,
        name=name,
        department=department,
        roles=[role.strip() for role in roles.split(",")],
        phone=phone,
    )


DEMO_ACCOUNTS: tuple[AccountDraft, ...] = (
    _account("teacher1", "李老师", "hkxy", "applicant", "13800000001"),
    _account("teacher2", "王老师", "hkxy", "applicant", "13800000002"),
    _account("student1", "张同学", "hkxy", "applicant", "13800000003"),
    _account("gzc", "国资处审批员", "gzc", "approver, editor", "13900000001"),
    _account("jjc", "基建处审批员", "jjc", "approver, editor", "13900000002"),
    _account("xxh", "信息化处审批员", "xxh", "approver, editor", "13900000003"),
    _account("hq", "后勤集团审批员", "hq", "approver, editor", "13900000004"),
    _account("bwc", "保卫处审批员", "bwc", "approver, editor", "13900000005"),
    _account("bmc", "保密处审批员", "bmc", "approver, editor", "13900000006"),
    _account("cwc", "财务处审批员", "cwc", "approver, editor", "13900000007"),
    _account("office", "学校办公室审核员", "xb", "reviewer", "13900000008"),
    _account("party", "机关党委发布员", "jgdw", "publisher", "13900000009"),
    _account("discipline", "纪委办公室监督员", "jw", "supervisor", "13900000010"),
    _account("admin", "系统管理员", "xxh", "admin", "13900000011"),
)


def seed_demo_accounts(
    accounts: IdentityApplication,
    conninfo: str,
    hasher: Callable[[str], str] = hash_password,
) -> list[str]:
    """Registers the demo accounts not there yet; returns the usernames it registered.

    A session advisory lock on a connection of its own (hashing takes seconds, longer
    than an idle transaction may stay open): a second gateway waits, then finds them all.
    """
    with psycopg.connect(conninfo, autocommit=True) as lock:
        lock.execute("SELECT pg_advisory_lock(%s)", (SEED_LOCK,))
        missing = [draft for draft in DEMO_ACCOUNTS if not accounts.exists(draft.username)]
        for draft in missing:
            accounts.register(draft, hasher(DEMO_PASSWORD), actor=SEEDER)
        lock.execute("SELECT pg_advisory_unlock(%s)", (SEED_LOCK,))
    if missing:
        log.info("seeded %d demo accounts", len(missing))
    return [draft.username for draft in missing]
