"""The bus is no open door: each service and the campus systems reach only what is theirs, and
every RPC request carries a caller assertion the gateway signed (real RabbitMQ throughout)."""
from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from amqp.exceptions import AccessRefused
from kombu import Connection, Exchange, Queue
from nameko.exceptions import RemoteError
from nameko.standalone.rpc import ClusterRpcProxy

from shared.busaccess import bus_user, login_uri
from shared.caller import CONTEXT_KEY, sign, signed_cluster_rpc
from shared.topology import events_exchange, subscriptions_of
from tests.support.gateway import Api
from tests.support.hall import submit_renovation
from tests.support.processes import eventually, queue_consumers

pytestmark = pytest.mark.integration

CAMPUS_QUEUE = "campus.case-feed"
EXISTING = {"no_declare": True}  # bind to an exchange without declaring it: only its owner may


def as_user(amqp_uri: str, role: str) -> str:
    user = bus_user(role)
    assert user is not None
    return login_uri(amqp_uri, user)


def published(amqp_uri: str, exchange: str, routing_key: str) -> None:
    """Publishes one message and waits for the broker's confirm (a refusal raises)."""
    with Connection(amqp_uri, transport_options={"confirm_publish": True}) as conn:
        conn.Producer().publish(
            {"type": routing_key}, exchange=Exchange(exchange, type="topic", **EXISTING),
            routing_key=routing_key, serializer="json",
        )


@contextmanager
def unsigned_rpc(amqp_uri: str, assertion: str | None = None) -> Iterator[Any]:
    """nameko's own standalone proxy: no assertion, or one fixed assertion for every call."""
    context = {CONTEXT_KEY: assertion} if assertion else None
    with ClusterRpcProxy({"AMQP_URI": amqp_uri}, context_data=context, timeout=20) as rpc:
        yield rpc


def refusal(call: Any) -> str:
    with pytest.raises(RemoteError) as refused:
        call()
    assert refused.value.exc_type == "UntrustedCallerError", refused.value
    return str(refused.value.value)


def test_a_campus_system_consumes_approval_events_but_can_neither_call_rpc_nor_publish(
    hall: Api, service_env: dict[str, str]
) -> None:
    campus = as_user(service_env["AMQP_URI"], "campus")
    # Given a campus system that binds a queue of its own to approval.events with its credentials
    feed = Queue(CAMPUS_QUEUE, exchange=Exchange("approval.events", type="topic", **EXISTING),
                 routing_key="#", durable=True)
    with Connection(campus) as conn:
        feed(conn.channel()).declare()
    # When 李老师 applies for 公房装修改造申请
    _, case_id = submit_renovation(hall)

    # Then the case's submission arrives on the campus queue
    def arrived() -> list[dict[str, Any]]:
        with Connection(campus) as conn:
            bound = feed(conn.channel())
            return [json.loads(m.body) for m in iter(lambda: bound.get(no_ack=True), None)]

    events = eventually(arrived, timeout=30)
    assert ("case_submitted", case_id) in {(e["type"], e["aggregate_id"]) for e in events}
    # But an RPC call is refused: campus may not even declare a reply queue
    with pytest.raises(AccessRefused), signed_cluster_rpc(campus) as rpc:
        rpc.approval.case_page({"username": "teacher1"})
    # And so is a request published straight onto the RPC exchange
    with pytest.raises(AccessRefused):
        published(campus, "nameko-rpc", "approval.case_page")
    # And a publication on approval.events
    with pytest.raises(AccessRefused):
        published(campus, "approval.events", "case_approved")


def test_a_forged_actor_on_case_page_is_refused_and_only_the_signed_one_is_answered(
    hall: Api, service_env: dict[str, str]
) -> None:
    uri = service_env["AMQP_URI"]
    # Given 李老师 has filed a case, and the actors of her and of a student as the gateway knows them
    teacher, case_id = submit_renovation(hall)
    teacher1 = teacher.get("/api/v1/me").json()
    student1 = hall.as_user("student1").get("/api/v1/me").json()
    # When someone asks for teacher1's cases with an assertion the gateway signed for student1
    with signed_cluster_rpc(uri, actor=student1) as rpc:
        forged = refusal(lambda: rpc.approval.case_page(teacher1))
        # or for teacher1's username under another name and roles
        escalated = refusal(lambda: rpc.approval.case_page({**teacher1, "roles": ["supervisor"]}))
    # Then both are refused, naming the argument
    assert "actor" in forged and "actor" in escalated
    # And so are a call without an assertion, one signed with another key, an expired one and
    # one the gateway signed for another service
    long_ago = time.time() - 600
    for assertion in (None, sign("gateway", "approval", teacher1, key="x" * 40),
                      sign("gateway", "approval", teacher1, now=long_ago),
                      sign("gateway", "catalogue", teacher1)):
        with unsigned_rpc(uri, assertion) as rpc:
            refusal(lambda rpc=rpc: rpc.approval.case_page(teacher1))
    # While the gateway's own assertion for teacher1 lists her case
    with signed_cluster_rpc(uri, actor=teacher1) as rpc:
        page = rpc.approval.case_page(teacher1)
    assert [c["case_id"] for c in page["cases"]] == [case_id]


def test_a_phone_number_is_given_only_to_notify(hall: Api, service_env: dict[str, str]) -> None:
    uri = service_env["AMQP_URI"]
    eventually(lambda: queue_consumers(uri, "rpc-gateway") > 0, timeout=60)  # the hall's gateway
    teacher1 = hall.as_user("teacher1").get("/api/v1/me").json()
    # When the contact of teacher1 is asked unsigned, by the gateway itself acting for her,
    # with notify's assertion for another service, and with notify's assertion forged
    with unsigned_rpc(uri) as rpc:
        unsigned = refusal(lambda: rpc.gateway.contact("teacher1"))
    with signed_cluster_rpc(uri, issuer="gateway", actor=teacher1) as rpc:
        not_a_caller = refusal(lambda: rpc.gateway.contact("teacher1"))
    with unsigned_rpc(uri, sign("notify", "approval", None)) as rpc:
        forwarded = refusal(lambda: rpc.gateway.contact("teacher1"))
    with signed_cluster_rpc(uri, issuer="notify", key="y" * 40) as rpc:
        forged = refusal(lambda: rpc.gateway.contact("teacher1"))
    # Then each is refused and says why
    assert "签名的调用者声明" in unsigned and "gateway" in not_a_caller
    assert "gateway" in forwarded and "签名无效" in forged
    # While notify's own assertion finds her phone
    with signed_cluster_rpc(uri, issuer="notify") as rpc:
        assert rpc.gateway.contact("teacher1")["phone"] == "13800000001"


def test_a_service_reaches_only_its_own_exchanges_and_queues(service_env: dict[str, str]) -> None:
    uri = service_env["AMQP_URI"]
    notify, catalogue = as_user(uri, "notify"), as_user(uri, "catalogue")
    # Given notify publishes on its own exchange
    published(notify, "notify.events", "notification_sent")
    # Then it may not publish on approval's, nor call approval (it calls only the gateway)
    with pytest.raises(AccessRefused):
        published(notify, "approval.events", "case_approved")
    with pytest.raises(AccessRefused):
        published(notify, "nameko-rpc", "approval.case_page")
    published(notify, "nameko-rpc", "gateway.contact")  # what it does call
    # And the catalogue, which declares audit's subscription to its events, may not read it
    audits_feed = next(s for s in subscriptions_of("catalogue") if s.consumer == "audit").queue()
    with Connection(catalogue) as conn:
        events_exchange("catalogue")(conn.channel()).declare()
        audits_feed(conn.channel()).declare()
    with Connection(catalogue) as conn, pytest.raises(AccessRefused):
        audits_feed(conn.channel()).get()
    # Nor take approval's RPC queue
    with Connection(catalogue) as conn, pytest.raises(AccessRefused):
        Queue("rpc-approval", durable=True)(conn.channel()).declare()
