"""Accounts beyond the demo's, registered in a test's own store as an administrator would."""
from __future__ import annotations

from collections.abc import Mapping

from services.gateway.application import IdentityApplication
from services.gateway.models import AccountDraft
from services.gateway.passwords import hash_password
from shared.cipher import cipher_env
from shared.config import Settings
from shared.eventstore import application_env, ensure_schema
from tests.support.gateway import DEMO_PASSWORD


def open_identity(service_env: Mapping[str, str], **overrides: str) -> IdentityApplication:
    """The identity application as the test's gateway opens it (its schema, its cipher key)."""
    settings = Settings(amqp_uri=service_env["AMQP_URI"], database_url=service_env["DATABASE_URL"])
    ensure_schema(settings.database, IdentityApplication.service)
    return IdentityApplication(env={
        **application_env(IdentityApplication.service, settings),
        **cipher_env(service_env.get("ONETRIP_CIPHER_KEY"), reads_plain=True),
        **overrides,
    })


def register_account(
    service_env: Mapping[str, str], draft: AccountDraft, password: str | None = DEMO_PASSWORD, **overrides: str
) -> None:
    accounts = open_identity(service_env, **overrides)
    try:
        accounts.register(draft, hash_password(password) if password else None, actor="admin")
    finally:
        accounts.close()
