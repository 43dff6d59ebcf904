"""No development secret in production: outside ONETRIP_ENV=development a service refuses to
start with a default, missing or short key, and says in one line which and what to do."""
from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from shared.busaccess import bus_user, vhost_of
from shared.config import DEFAULTS
from tests.support.gateway import Api, is_problem, start_gateway
from tests.support.processes import ProcessGroup
from tests.support.servers import Servers

pytestmark = pytest.mark.integration

PRODUCTION = {"ONETRIP_ENV": ""}


def real_keys(service: str) -> dict[str, str]:
    user = bus_user(service)
    assert user is not None
    keys = ("ONETRIP_SECRET_KEY", "ONETRIP_CIPHER_KEY", "ONETRIP_AUDIT_KEY", "ONETRIP_BUS_KEY",
            user.password_variable)
    return {key: secrets.token_urlsafe(32) for key in keys}


@pytest.mark.parametrize(
    ("service", "variable", "value", "said"),
    [
        ("gateway", "ONETRIP_SECRET_KEY", DEFAULTS["ONETRIP_SECRET_KEY"], "is a development default"),
        ("notify", "ONETRIP_CIPHER_KEY", "", "is not set"),
        ("audit", "ONETRIP_AUDIT_KEY", "too-short-a-key", "has 15 characters, fewer than 32"),
        ("approval", "ONETRIP_BUS_KEY", DEFAULTS["ONETRIP_BUS_KEY"], "is a development default"),
        ("catalogue", "ONETRIP_BUS_PASSWORD_CATALOGUE", "", "is not set"),
    ],
)
def test_a_service_outside_development_with_a_development_key_exits_saying_which_and_what_to_do(
    processes: ProcessGroup, service: str, variable: str, value: str, said: str
) -> None:
    # Given every key real but one, and no ONETRIP_ENV=development
    keys = {**real_keys(service), variable: value}
    # When the service is started
    process = processes.start(service, **PRODUCTION, **keys)
    # Then it exits at once, with one line naming the key and saying what to do
    assert process.wait_exit(60) == 1
    advice = (f"set {variable} to a random string of at least 32 characters (python -c 'import "
              "secrets; print(secrets.token_urlsafe(32))'), or ONETRIP_ENV=development on a "
              "development machine")
    assert process.log().strip().splitlines() == [
        f"onetrip-service {service}: {variable} {said}: {advice}"
    ]


def test_with_real_keys_the_gateway_starts_and_refuses_a_token_signed_with_the_development_key(
    processes: ProcessGroup, service_env: dict[str, str], servers: Servers
) -> None:
    # Given real keys, and the gateway's bus user given its real password
    keys = real_keys("gateway")
    servers.broker().grant(vhost_of(service_env["AMQP_URI"]), {**service_env, **keys})
    # When the gateway starts outside development
    process, api = start_gateway(processes, **PRODUCTION, **keys)
    process.wait_for_queue("rpc-gateway")  # logged in to the bus as itself
    # Then a token signed with the development key is refused, and its own tokens work
    now = datetime.now(UTC)
    forged = jwt.encode({"sub": "gzc", "iss": "onetrip", "iat": now, "exp": now + timedelta(hours=1)},
                        DEFAULTS["ONETRIP_SECRET_KEY"], algorithm="HS256")
    assert is_problem(Api(api.base_url, forged).get("/api/v1/me"), 401)
    assert api.as_user("gzc").get("/api/v1/me").json()["username"] == "gzc"
