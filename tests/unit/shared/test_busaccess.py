"""The bus users' permissions, read as the broker reads them (a regex over a resource name)."""
from __future__ import annotations

import re
import uuid

import pytest

from services.approval.service import ApprovalService
from services.audit.service import AuditService
from services.catalogue.service import CatalogueService
from services.gateway.service import GatewayService
from services.notify.service import NotifyService
from shared.busaccess import BUS_USERS, RPC_CALLS, bus_user, login_uri
from shared.caller import SignedRpcProxy
from shared.topology import SUBSCRIPTIONS

SERVICE_CLASSES = (CatalogueService, ApprovalService, NotifyService, AuditService, GatewayService)
REPLY_KEY = str(uuid.uuid4())


def permits(pattern: str, name: str) -> bool:
    return re.fullmatch(pattern, name) is not None


def grant(role: str, exchange: str) -> tuple[str, str]:
    user = bus_user(role)
    assert user is not None
    topic = next(t for t in user.topics if t.exchange == exchange)
    return topic.write, topic.read


def test_who_calls_whom_is_what_the_services_proxies_say() -> None:
    # Given every service's RPC proxies
    proxies = {
        cls.name: tuple(p.target_service for p in vars(cls).values() if isinstance(p, SignedRpcProxy))
        for cls in SERVICE_CLASSES
    }
    # Then the bus grants exactly those calls
    granted = {name: tuple(dict.fromkeys(t.partition(".")[0] for t in targets))
               for name, targets in RPC_CALLS.items()}
    assert {name: targets for name, targets in proxies.items() if targets} == granted


@pytest.mark.parametrize("service", [cls.name for cls in SERVICE_CLASSES])
def test_a_service_reaches_its_own_queues_and_exchange_and_no_other_services(service: str) -> None:
    user = bus_user(service)
    assert user is not None
    own = [f"{service}.events", f"{service}.manifests", f"rpc-{service}",
           f"rpc.reply-{service}-{REPLY_KEY}", "nameko-rpc", "onetrip.dead-letter"]
    consumed = [s.queue_name for s in SUBSCRIPTIONS if s.consumer == service]
    # Then it configures, writes and reads its own, and consumes its subscriptions
    assert all(permits(user.configure, name) and permits(user.write, name) for name in own)
    assert all(permits(user.read, name) for name in own + consumed)
    # But no other service's exchange, RPC queue or subscription
    for other in (s.name for s in SERVICE_CLASSES if s.name != service):
        theirs = [f"{other}.events", f"{other}.manifests", f"rpc-{other}",
                  f"rpc.reply-{other}-{REPLY_KEY}"]
        assert not any(permits(user.configure, n) or permits(user.write, n) for n in theirs)
        others_feeds = [s.queue_name for s in SUBSCRIPTIONS if s.consumer == other]
        assert not any(permits(user.read, name) for name in others_feeds + theirs[2:])
    # Nor the default exchange (publishing straight into a queue)
    assert not permits(user.write, "amq.default")


def test_on_the_rpc_exchange_a_service_sends_only_to_the_services_it_calls_and_replies() -> None:
    write, read = grant("notify", "nameko-rpc")
    assert permits(write, "gateway.contact") and permits(write, REPLY_KEY)
    assert not permits(write, "approval.case_page") and not permits(write, "gateway.#")
    assert permits(read, "notify.*") and permits(read, REPLY_KEY) and not permits(read, "#")
    write, _ = grant("approval", "nameko-rpc")
    assert permits(write, REPLY_KEY) and not permits(write, "gateway.contact")


def test_campus_binds_its_own_queues_to_the_events_and_does_nothing_else() -> None:
    campus = bus_user("campus")
    assert campus is not None
    events = [f"{cls.name}.events" for cls in SERVICE_CLASSES]
    assert permits(campus.configure, "campus.feed") and permits(campus.write, "campus.feed")
    assert all(permits(campus.read, name) for name in events + ["campus.feed"])
    refused = events + ["nameko-rpc", "rpc-approval", "rpc.reply-campus-" + REPLY_KEY,
                        "onetrip.dead-letter", "amq.default"]
    assert not any(permits(campus.configure, n) or permits(campus.write, n) for n in refused)
    assert grant("campus", "nameko-rpc") == ("^$", "^$")


def test_users_are_named_after_the_virtual_host_so_two_deployments_never_share_one() -> None:
    approval = bus_user("approval")
    assert approval is not None
    assert login_uri("amqp://admin:pw@mq:5672/", approval, {}).startswith("amqp://approval:")
    staging = login_uri("amqp://admin:pw@mq:5672/staging", approval,
                        {"ONETRIP_BUS_PASSWORD_APPROVAL": "s3cret/with:signs"})
    assert staging == "amqp://staging.approval:s3cret%2Fwith%3Asigns@mq:5672/staging"
    assert {user.role for user in BUS_USERS} == {cls.name for cls in SERVICE_CLASSES} | {"campus"}
