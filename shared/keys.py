"""No development secret in production: a process refuses to start with one.

Every key has a development default so that ``make up`` works on a fresh clone. Outside
``ONETRIP_ENV=development`` (which ``make up`` and the tests set) each key a process uses must
be set, at least ``MIN_LENGTH`` characters long, and none of the development defaults;
otherwise the process exits with one line per key saying what to do.
"""
from __future__ import annotations

import os
import sys

from shared.busaccess import BUS_USERS, DEVELOPMENT_PASSWORD, bus_user
from shared.config import DEFAULTS

DEVELOPMENT = "development"
MIN_LENGTH = 32
BUS_KEY = "ONETRIP_BUS_KEY"

# The keys each service uses besides the bus key and its bus password.
KEYS_OF: dict[str, tuple[str, ...]] = {
    "gateway": ("ONETRIP_SECRET_KEY", "ONETRIP_CIPHER_KEY"),
    "notify": ("ONETRIP_CIPHER_KEY",),
    "audit": ("ONETRIP_AUDIT_KEY",),
}
DEVELOPMENT_VALUES = frozenset(
    [value for name, value in DEFAULTS.items() if name.endswith("_KEY")]
    + [DEVELOPMENT_PASSWORD.format(user=user.name) for user in BUS_USERS]
)


def in_development() -> bool:
    return os.environ.get("ONETRIP_ENV", "").strip().lower() == DEVELOPMENT


def keys_of(service: str) -> list[str]:
    user = bus_user(service)
    return [BUS_KEY, *KEYS_OF.get(service, ()), *([user.password_variable] if user else [])]


def bootstrap_keys() -> list[str]:
    """What ``shared.bootstrap`` needs: the password of every bus user it creates."""
    return [user.password_variable for user in BUS_USERS]


def problem(variable: str) -> str | None:
    value = os.environ.get(variable, "")
    fix = (f"set {variable} to a random string of at least {MIN_LENGTH} characters "
           "(python -c 'import secrets; print(secrets.token_urlsafe(32))'), "
           f"or ONETRIP_ENV={DEVELOPMENT} on a development machine")
    if not value:
        return f"{variable} is not set: {fix}"
    if value in DEVELOPMENT_VALUES:
        return f"{variable} is a development default: {fix}"
    if len(value) < MIN_LENGTH:
        return f"{variable} has {len(value)} characters, fewer than {MIN_LENGTH}: {fix}"
    return None


def refuse_development_keys(variables: list[str], program: str) -> None:
    """Exits when a key is missing, a development default or short, unless in development."""
    if in_development():
        return
    problems = [found for variable in variables if (found := problem(variable))]
    if problems:
        sys.exit("\n".join(f"{program}: {line}" for line in problems))
