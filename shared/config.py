"""Configuration from the environment; every variable has a working local default."""
from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
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
    "ONETRIP_TOKEN_HOURS": "8",
    "ONETRIP_BROKER_API_URL": "",
    "ONETRIP_HOLIDAYS_FILE": "",
    "ONETRIP_RECTIFICATION_DAYS": "5",
    "ONETRIP_AUDIT_CHECKPOINT": "var/audit-checkpoint.json",
    "ONETRIP_AUDIT_CHECKPOINT_SECONDS": "60",
    "ONETRIP_NOTIFY_TEMPLATES": "",
    "ONETRIP_NOTIFY_RETRY_BASE_SECONDS": "5",
    "ONETRIP_NOTIFY_RETRY_CAP_SECONDS": "600",
    "ONETRIP_NOTIFY_MAX_ATTEMPTS": "8",
    "ONETRIP_NOTIFY_LEASE_SECONDS": "30",
    "ONETRIP_NOTIFY_POLL_SECONDS": "0.5",
    "ONETRIP_SMS_MIN_INTERVAL_SECONDS": "60",
    "ONETRIP_SMS_DAILY_LIMIT": "10",
    "ONETRIP_SMS_URL": "http://127.0.0.1:8090/v1/sms",
    "ONETRIP_SMS_API_KEY": "",
    "ONETRIP_SMS_SIGNATURE": "【最多跑一趟】",
    "ONETRIP_SMS_HOST": "127.0.0.1",
    "ONETRIP_SMS_PORT": "8090",
    "ONETRIP_SMS_DB": "var/smsgateway.sqlite3",
    "ONETRIP_SMTP_HOST": "127.0.0.1",
    "ONETRIP_SMTP_PORT": "1025",
    "ONETRIP_SMTP_FROM": "onetrip@localhost",
    "ONETRIP_SMTP_USER": "",
    "ONETRIP_SMTP_PASSWORD": "",
    "ONETRIP_SMTP_CA_FILE": "",
    "ONETRIP_FAULT": "",
    # campus single sign-on (docs/sso.md): no issuer, no OIDC login
    "ONETRIP_OIDC_ISSUER": "",
    "ONETRIP_OIDC_CLIENT_ID": "onetrip",
    "ONETRIP_OIDC_CLIENT_SECRET": "",
    "ONETRIP_OIDC_REDIRECT_URI": "",
    "ONETRIP_OIDC_LABEL": "统一身份认证",
    "ONETRIP_OIDC_SCOPE": "openid profile email",
    "ONETRIP_OIDC_USERNAME_CLAIM": "preferred_username",
    "ONETRIP_OIDC_DEPARTMENT_CLAIM": "department",
    "ONETRIP_CAS_URL": "",
    "ONETRIP_CAS_LABEL": "统一身份认证(CAS)",
    "ONETRIP_CAS_NAME_ATTRIBUTE": "name",
    "ONETRIP_CAS_DEPARTMENT_ATTRIBUTE": "department",
    "ONETRIP_CAS_SERVICE_URL": "",
}


def env(name: str) -> str:
    return os.environ.get(name) or DEFAULTS[name]


def _text(name: str, *, secret: bool = False) -> Any:
    return field(default_factory=lambda: env(name), repr=not secret)


def _number(name: str, kind: type[int | float] = float) -> Any:
    return field(default_factory=lambda: kind(env(name)))


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
class SmtpSettings:
    host: str = _text("ONETRIP_SMTP_HOST")
    port: int = _number("ONETRIP_SMTP_PORT", int)
    sender: str = _text("ONETRIP_SMTP_FROM")
    user: str = _text("ONETRIP_SMTP_USER")
    password: str = _text("ONETRIP_SMTP_PASSWORD", secret=True)
    ca_file: str = _text("ONETRIP_SMTP_CA_FILE")


@dataclass(frozen=True)
class NotifySettings:
    templates_dir: str = _text("ONETRIP_NOTIFY_TEMPLATES")
    sms_url: str = _text("ONETRIP_SMS_URL")
    sms_api_key: str = _text("ONETRIP_SMS_API_KEY", secret=True)
    sms_signature: str = _text("ONETRIP_SMS_SIGNATURE")
    retry_base_seconds: float = _number("ONETRIP_NOTIFY_RETRY_BASE_SECONDS")
    retry_cap_seconds: float = _number("ONETRIP_NOTIFY_RETRY_CAP_SECONDS")
    max_attempts: int = field(default_factory=lambda: int(float(env("ONETRIP_NOTIFY_MAX_ATTEMPTS"))))
    lease_seconds: float = _number("ONETRIP_NOTIFY_LEASE_SECONDS")
    poll_seconds: float = _number("ONETRIP_NOTIFY_POLL_SECONDS")
    sms_min_interval_seconds: float = _number("ONETRIP_SMS_MIN_INTERVAL_SECONDS")
    sms_daily_limit: int = field(default_factory=lambda: int(float(env("ONETRIP_SMS_DAILY_LIMIT"))))
    smtp: SmtpSettings = field(default_factory=SmtpSettings)


@dataclass(frozen=True)
class AuditSettings:
    checkpoint_path: str = _text("ONETRIP_AUDIT_CHECKPOINT")
    checkpoint_seconds: float = _number("ONETRIP_AUDIT_CHECKPOINT_SECONDS")
    grace_seconds: float = _number("ONETRIP_AUDIT_GRACE_SECONDS")
    rectification_days: int = _number("ONETRIP_RECTIFICATION_DAYS", int)
    key: str = _text("ONETRIP_AUDIT_KEY", secret=True)


@dataclass(frozen=True)
class SmsGatewaySettings:
    host: str = _text("ONETRIP_SMS_HOST")
    port: int = _number("ONETRIP_SMS_PORT", int)
    database: str = _text("ONETRIP_SMS_DB")


@dataclass(frozen=True)
class Settings:
    """Every setting of a process, read from the environment once, where the process is
    composed (``shared.runner``, the command-line tools), and handed down from there."""

    amqp_uri: str = _text("AMQP_URI")
    database_url: str = _text("DATABASE_URL")
    delivery_limit: int = _number("ONETRIP_DELIVERY_LIMIT", int)
    relay_poll_seconds: float = _number("ONETRIP_RELAY_POLL_SECONDS")
    event_prefetch: int = _number("ONETRIP_EVENT_PREFETCH", int)
    db_pool_size: int = _number("ONETRIP_DB_POOL_SIZE", int)
    db_max_overflow: int = _number("ONETRIP_DB_MAX_OVERFLOW", int)
    log_level: str = _text("ONETRIP_LOG_LEVEL")
    log_format: str = _text("ONETRIP_LOG_FORMAT")
    metrics_port: int = field(default_factory=lambda: int(env("ONETRIP_METRICS_PORT") or 0))
    metrics_host: str = _text("ONETRIP_METRICS_HOST")
    demo: bool = field(default_factory=lambda: env("ONETRIP_DEMO") == "1")
    fault: str = _text("ONETRIP_FAULT")
    broker_api_url: str = _text("ONETRIP_BROKER_API_URL")
    holidays_file: str = _text("ONETRIP_HOLIDAYS_FILE")
    overdue_check_seconds: float = _number("ONETRIP_OVERDUE_CHECK_SECONDS")
    clock_skew_days: float = _number("ONETRIP_CLOCK_SKEW_DAYS")
    notify: NotifySettings = field(default_factory=NotifySettings)
    audit: AuditSettings = field(default_factory=AuditSettings)
    sms_gateway: SmsGatewaySettings = field(default_factory=SmsGatewaySettings)

    @property
    def database(self) -> Database:
        return Database.from_url(self.database_url)


SETTINGS_KEY = "ONETRIP_SETTINGS"


def settings_of(config: Mapping[str, Any]) -> Settings:
    """The settings a process's composition root put in its nameko config."""
    found = config.get(SETTINGS_KEY)
    return found if isinstance(found, Settings) else Settings()


def nameko_config(service: str, settings: Settings | None = None) -> dict[str, object]:
    settings = settings or Settings()
    return {
        SETTINGS_KEY: settings,
        "AMQP_URI": settings.amqp_uri,
        "serializer": "json",
        "max_workers": int(env("ONETRIP_MAX_WORKERS")),
        "WEB_SERVER_ADDRESS": f"{env('HOST')}:{env('PORT')}",
        "ONETRIP_SERVICE": service,
        "HEARTBEAT": 30,
    }
