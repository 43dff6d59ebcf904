"""Configuration from the environment; every variable has a working local default."""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

DEFAULTS: dict[str, str] = {
    "AMQP_URI": "amqp://guest:guest@127.0.0.1:5672/",
    "DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/onetrip",
    "HOST": "127.0.0.1",
    "PORT": "8000",
    "ONETRIP_DEMO": "1",
    "ONETRIP_MAX_UPLOAD_MB": "20",
    "ONETRIP_SECRET_KEY": "onetrip-local-development-key-change-me",
    "ONETRIP_CIPHER_KEY": "onetrip-local-development-cipher-key-change-me",
    "ONETRIP_AUDIT_KEY": "onetrip-local-development-audit-key-change-me",
    "ONETRIP_BUS_KEY": "onetrip-local-development-bus-key-change-me",
    "ONETRIP_FILES_DIR": "var/files",
    "ONETRIP_FILES_POOL_SIZE": "5",
    "ONETRIP_DELIVERY_LIMIT": "5",
    "ONETRIP_EVENT_PREFETCH": "1",
    "ONETRIP_RELAY_POLL_SECONDS": "1.0",
    "ONETRIP_MAX_WORKERS": "10",
    "ONETRIP_DB_POOL_SIZE": "5",
    "ONETRIP_DB_MAX_OVERFLOW": "10",
    "ONETRIP_RPC_TIMEOUT": "10",
    "ONETRIP_LOG_LEVEL": "INFO",
    "ONETRIP_LOG_FORMAT": "text",
    "ONETRIP_METRICS_PORT": "",
    "ONETRIP_METRICS_HOST": "127.0.0.1",
    "ONETRIP_OVERDUE_CHECK_SECONDS": "60",
    "ONETRIP_CLOCK_SKEW_DAYS": "0",
    "ONETRIP_SECURE_COOKIES": "auto",
    "ONETRIP_ACCOUNT_CACHE_SECONDS": "5",
    "ONETRIP_AUDIT_GRACE_SECONDS": "120",
    "ONETRIP_TRUSTED_PROXIES": "",
    "ONETRIP_LOGIN_ADDRESS_LIMIT": "30",
    "ONETRIP_IDEMPOTENCY_HOURS": "24",
}


def env(name: str) -> str:
    return os.environ.get(name) or DEFAULTS[name]


def fault(point: str) -> None:
    """Crash here when a test asks for it: ONETRIP_FAULT names the point."""
    if os.environ.get("ONETRIP_FAULT") == point:
        logging.getLogger(__name__).warning("fault injection: exiting at %s", point)
        os._exit(17)


@dataclass(frozen=True)
class Database:
    host: str
    port: int
    user: str
    password: str
    dbname: str

    @classmethod
    def from_url(cls, url: str) -> Database:
        parts = urlsplit(url)
        return cls(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 5432,
            user=unquote(parts.username or "postgres"),
            password=unquote(parts.password or ""),
            dbname=(parts.path or "/onetrip").lstrip("/") or "onetrip",
        )

    def conninfo(self, dbname: str | None = None) -> str:
        pieces = {
            "host": self.host,
            "port": str(self.port),
            "user": self.user,
            "dbname": dbname or self.dbname,
        }
        if self.password:
            pieces["password"] = self.password
        return " ".join(f"{key}='{value}'" for key, value in pieces.items())


@dataclass(frozen=True)
class Settings:
    amqp_uri: str = field(default_factory=lambda: env("AMQP_URI"))
    database_url: str = field(default_factory=lambda: env("DATABASE_URL"))
    delivery_limit: int = field(default_factory=lambda: int(env("ONETRIP_DELIVERY_LIMIT")))
    relay_poll_seconds: float = field(
        default_factory=lambda: float(env("ONETRIP_RELAY_POLL_SECONDS"))
    )

    @property
    def database(self) -> Database:
        return Database.from_url(self.database_url)


def nameko_config(service: str) -> dict[str, object]:
    return {
        "AMQP_URI": env("AMQP_URI"),
        "serializer": "json",
        "max_workers": int(env("ONETRIP_MAX_WORKERS")),
        "WEB_SERVER_ADDRESS": f"{env('HOST')}:{env('PORT')}",
        "ONETRIP_SERVICE": service,
        "HEARTBEAT": 30,
    }
