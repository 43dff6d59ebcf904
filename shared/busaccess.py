"""Who may do what on the bus: one RabbitMQ user per service, and ``campus`` for other systems.

Declared once, here, as data: every user's configure / write / read patterns (regular
expressions over exchange and queue names) and its topic permissions (regular expressions
over routing keys) on the RPC exchange and the dead-letter exchange. ``python -m
shared.bootstrap`` (and the tests, for each virtual host) create them from this module;
``python -m shared.busaccess`` prints them.

A service logs in as the user named after it, with the password in
``ONETRIP_BUS_PASSWORD_<SERVICE>``, at the broker and virtual host of ``AMQP_URI``; the user
and password written in ``AMQP_URI`` are the administrator's, used only to create the users
(bootstrap) and by the operators' tools (``shared.deadletters``).
"""
from __future__ import annotations

import base64
import hashlib
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import requests
from nameko.rpc import RPC_QUEUE_TEMPLATE, RPC_REPLY_QUEUE_TEMPLATE

from shared.messaging import DEAD_LETTER_EXCHANGE, REPLAYED_EXCHANGE, WATCHER, watch_queue
from shared.topology import (
    PUBLISHERS,
    SUBSCRIPTIONS,
    events_exchange,
    manifests_exchange,
    subscriptions_of,
)

SERVICES = PUBLISHERS
CAMPUS = "campus"
RPC_EXCHANGE = "nameko-rpc"

# Who calls whom over RPC (the services' RpcProxy attributes; a unit test keeps the two equal):
# a whole service ("gateway"), or one of its methods only ("gateway.department_members").
RPC_CALLS: dict[str, tuple[str, ...]] = {
    "gateway": ("catalogue", "approval", "notify", "audit"),
    "notify": ("gateway",),
    "approval": ("gateway.department_members",),
}

# nameko names a reply queue and its binding after uuid4(); a request's key is "<service>.<method>".
UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
METHOD = "[A-Za-z_][A-Za-z0-9_]*"
NOTHING = "^$"
DEVELOPMENT_PASSWORD = "onetrip-local-development-bus-password-{user}"


def callers_of(service: str, method: str) -> tuple[str, ...]:
    return tuple(
        caller for caller, callees in RPC_CALLS.items()
        if service in callees or f"{service}.{method}" in callees
    )


def rpc_key(callee: str) -> str:
    """The routing keys a grant in RPC_CALLS covers on the RPC exchange, as a pattern."""
    service, _, method = callee.partition(".")
    return f"{re.escape(service)}\\.{re.escape(method) if method else METHOD}"


def one_of(*patterns: str) -> str:
    return "^(" + "|".join(patterns) + ")$" if patterns else NOTHING


def literal(*names: str) -> list[str]:
    return [re.escape(name).replace("\\-", "-") for name in names]


@dataclass(frozen=True)
class TopicGrant:
    exchange: str
    write: str
    read: str


@dataclass(frozen=True)
class BusUser:
    role: str  # a service's name, or "campus"
    configure: str
    write: str
    read: str
    topics: tuple[TopicGrant, ...] = ()

    @property
    def password_variable(self) -> str:
        return f"ONETRIP_BUS_PASSWORD_{self.role.upper()}"

    def password(self, environ: Mapping[str, str] = os.environ) -> str:
        return environ.get(self.password_variable) or DEVELOPMENT_PASSWORD.format(user=self.role)

    def name(self, vhost: str) -> str:
        """RabbitMQ users are broker-wide: on a virtual host other than "/" the name carries it,
        so two deployments (or two tests) on one broker never share a user."""
        return self.role if vhost == "/" else f"{vhost}.{self.role}"


def service_user(service: str) -> BusUser:
    own_exchanges = literal(events_exchange(service).name, manifests_exchange(service).name)
    rpc_queues = [*literal(RPC_QUEUE_TEMPLATE.format(service)),
                  literal(RPC_REPLY_QUEUE_TEMPLATE.format(service, ""))[0] + UUID]
    subscribed = [s for s in SUBSCRIPTIONS if s.consumer == service]
    consumed = literal(*(s.queue_name for s in subscribed))
    # The dead-letter watcher (the audit service) has a queue beside the operators' one.
    watched = literal(watch_queue(service).name) if service == WATCHER else []
    relayed = literal(*(s.queue_name for s in subscriptions_of(service)))
    sources = literal(*sorted({s.exchange().name for s in subscribed}
                              | ({REPLAYED_EXCHANGE.name} if watched else set())))
    shared = literal(RPC_EXCHANGE, DEAD_LETTER_EXCHANGE.name)
    return BusUser(
        role=service,
        configure=one_of(*own_exchanges, *rpc_queues, *consumed, *watched, *relayed, *shared),
        write=one_of(*own_exchanges, *rpc_queues, *consumed, *watched, *relayed, *shared),
        read=one_of(*own_exchanges, *rpc_queues, *consumed, *watched, *sources, *shared),
        topics=(
            TopicGrant(
                RPC_EXCHANGE,
                write=one_of(*(rpc_key(callee) for callee in RPC_CALLS.get(service, ())),
                             UUID),
                read=one_of(*literal(f"{service}.*"), UUID),
            ),
            # A service dead-letters only what came to its own queues (the key is the queue).
            TopicGrant(DEAD_LETTER_EXCHANGE.name, write=one_of(*consumed), read=one_of("#")),
        ),
    )


def campus_user() -> BusUser:
    own = literal(f"{CAMPUS}.")[0] + ".*"
    events = literal(*(events_exchange(service).name for service in SERVICES))
    return BusUser(
        role=CAMPUS,
        configure=one_of(own),
        write=one_of(own),
        read=one_of(own, *events),
        topics=(TopicGrant(RPC_EXCHANGE, write=NOTHING, read=NOTHING),),
    )


BUS_USERS: tuple[BusUser, ...] = (*(service_user(s) for s in SERVICES), campus_user())


def bus_user(role: str) -> BusUser | None:
    return next((user for user in BUS_USERS if user.role == role), None)


def vhost_of(amqp_uri: str) -> str:
    path = urlsplit(amqp_uri).path
    return unquote(path[1:]) if len(path) > 1 else "/"


def login_uri(amqp_uri: str, user: BusUser, environ: Mapping[str, str] = os.environ) -> str:
    """``amqp_uri``'s broker and virtual host, logged in as ``user``."""
    parts = urlsplit(amqp_uri)
    name = quote(user.name(vhost_of(amqp_uri)), safe="")
    netloc = f"{name}:{quote(user.password(environ), safe='')}@{parts.hostname or '127.0.0.1'}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def service_login_uri(amqp_uri: str, service: str) -> str:
    """How ``service`` reaches the bus: as its own user, or as ``amqp_uri`` says when it has
    none (a test double such as the backbone tests' ``ping``)."""
    user = bus_user(service)
    return amqp_uri if user is None else login_uri(amqp_uri, user)


# -- creating them (RabbitMQ's management HTTP API) ------------------------------------------


def password_hash(password: str) -> str:
    """RabbitMQ's rabbit_password_hashing_sha256: base64(salt + sha256(salt + password))."""
    salt = secrets.token_bytes(4)
    return base64.b64encode(salt + hashlib.sha256(salt + password.encode("utf-8")).digest()).decode()


def definitions(vhost: str, administrator: str, environ: Mapping[str, str]) -> dict[str, Any]:
    """The virtual host, its bus users (passwords from ``environ``) with their permissions,
    and the administrator's permissions: one import of RabbitMQ definitions."""
    users = [(user, user.name(vhost)) for user in BUS_USERS]
    return {
        "users": [
            {"name": name, "password_hash": password_hash(user.password(environ)),
             "hashing_algorithm": "rabbit_password_hashing_sha256", "tags": []}
            for user, name in users
        ],
        "vhosts": [{"name": vhost}],
        "permissions": [
            {"user": name, "vhost": vhost, "configure": user.configure, "write": user.write,
             "read": user.read}
            for user, name in users
        ] + [{"user": administrator, "vhost": vhost, "configure": ".*", "write": ".*", "read": ".*"}],
        "topic_permissions": [
            {"user": name, "vhost": vhost, **asdict(grant)}
            for user, name in users
            for grant in user.topics
        ],
    }


class BrokerAdminError(Exception):
    """The management API refused (e.g. AMQP_URI's user is no administrator)."""


class BrokerUnreachableError(BrokerAdminError):
    """The management API does not answer (yet)."""


@dataclass(frozen=True)
class BrokerAdmin:
    """The administrator of ``AMQP_URI`` on RabbitMQ's management API (``ONETRIP_BROKER_API_URL``,
    by default port 15672 of the broker's host): one request creates a virtual host, its users
    and every permission, in milliseconds (``rabbitmqctl`` takes about a second a call)."""

    api_url: str
    user: str
    password: str

    @classmethod
    def of(cls, amqp_uri: str, api_url: str = "") -> BrokerAdmin:
        parts = urlsplit(amqp_uri)
        api = api_url or f"http://{parts.hostname}:15672/api"
        return cls(api.rstrip("/"), unquote(parts.username or "guest"),
                   unquote(parts.password or "guest"))

    def _request(self, method: str, path: str, body: dict[str, Any] | None = None) -> None:
        try:
            reply = requests.request(method, self.api_url + path, json=body, timeout=30,
                                     auth=(self.user, self.password))
        except requests.ConnectionError:
            raise BrokerUnreachableError(
                f"RabbitMQ's management API does not answer at {self.api_url}: enable it "
                "(rabbitmq-plugins enable rabbitmq_management) or set ONETRIP_BROKER_API_URL"
            ) from None
        if reply.status_code >= 400 and not (method == "DELETE" and reply.status_code == 404):
            raise BrokerAdminError(f"RabbitMQ's management API refused {method} {path}: "
                                   f"{reply.status_code} {reply.text[:300]}")

    def grant(self, vhost: str, environ: Mapping[str, str] = os.environ) -> None:
        """Creates ``vhost`` if needed, its bus users and every permission (again: idempotent)."""
        self._request("POST", "/definitions", definitions(vhost, self.user, environ))

    def revoke(self, vhost: str) -> None:
        """Deletes ``vhost`` and its bus users (tests, and deployments taken down)."""
        self._request("DELETE", "/vhosts/" + quote(vhost, safe=""))
        for user in BUS_USERS:
            if user.name(vhost) != user.role:
                self._request("DELETE", "/users/" + quote(user.name(vhost), safe=""))


def describe() -> str:
    """Every user's permissions in Markdown (docs/security.md shows them)."""
    lines = []
    for user in BUS_USERS:
        lines += [f"#### `{user.role}`", "",
                  *(f"- {kind}: `{pattern}`" for kind, pattern in
                    (("configure", user.configure), ("write", user.write), ("read", user.read))),
                  *(f"- topic permissions on `{t.exchange}`: write `{t.write}`, read `{t.read}`"
                    for t in user.topics), ""]
    return "\n".join(lines)


if __name__ == "__main__":
    print(describe())
