"""Personal data at rest: the gateway's stored account events hold no phone number or e-mail
address in clear, including a store kept from before they were encrypted."""
from __future__ import annotations

import psycopg
import pytest
from psycopg import sql

from services.gateway.demo import DEMO_ACCOUNTS
from services.gateway.models import AccountDraft
from shared.caller import signed_cluster_rpc
from tests.support.accounts import register_account
from tests.support.gateway import start_gateway
from tests.support.processes import ProcessGroup

pytestmark = pytest.mark.integration

OLD = AccountDraft(username="teacher-old", name="陈老师", department="hkxy", roles=["applicant"],
                   phone="+86 138 0000 0077", email="chen.laoshi@example.edu.cn")
NEW = AccountDraft(username="teacher9", name="赵老师", department="hkxy", roles=["applicant"],
                   phone="138-0000-0009", email="zhao.laoshi@example.edu.cn")


def stored_states(database_url: str) -> list[bytes]:
    """The raw ``state`` of every row of every event table in the gateway's schema."""
    with psycopg.connect(database_url) as conn:
        tables = [row[0] for row in conn.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = 'gateway' AND table_name LIKE %s", ("%\\_events",))]
        assert tables, "the gateway stores no events"
        return [bytes(row[0]) for table in tables for row in conn.execute(
            sql.SQL("SELECT state FROM {}").format(sql.Identifier("gateway", table)))]


def test_account_events_keep_phones_and_emails_encrypted_at_rest(
    processes: ProcessGroup, service_env: dict[str, str]
) -> None:
    # Given a store kept from before encryption, holding 陈老师's account in clear
    register_account(service_env, OLD, CIPHER_TOPIC="", CIPHER_KEY="")  # as a release without encryption
    assert any(OLD.phone.encode() in state for state in stored_states(service_env["DATABASE_URL"]))
    # When the gateway starts (seeding the demo accounts) and 赵老师 is registered
    gateway, api = start_gateway(processes)
    gateway.wait_for_queue("rpc-gateway")
    register_account(service_env, NEW)
    # Then no stored event holds a phone number or an e-mail address in clear
    secrets = [OLD.phone, OLD.email, NEW.phone, NEW.email] + [demo.phone for demo in DEMO_ACCOUNTS]
    states = stored_states(service_env["DATABASE_URL"])
    assert len(states) >= len(DEMO_ACCOUNTS) + 2
    for secret in secrets:
        assert secret is not None
        assert not any(secret.encode() in state for state in states), f"{secret} stored in clear"
    assert not any(b"chen.laoshi" in state or b"zhao.laoshi" in state for state in states)
    # And the directory still answers them, the old account's too
    with signed_cluster_rpc(service_env["AMQP_URI"], issuer="notify", timeout=20) as rpc:
        old, new, demo = (rpc.gateway.contact(name) for name in ("teacher-old", "teacher9", "teacher1"))
    assert (old["phone"], old["email"]) == (OLD.phone, OLD.email)
    assert (new["phone"], new["email"]) == (NEW.phone, NEW.email)
    assert demo["phone"] == "13800000001"
    # And the old account still signs in
    assert api.login("teacher-old").status_code == 200
