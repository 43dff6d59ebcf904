"""Logging: nameko's own error logs stay on, and phone numbers and e-mail addresses never
leave unmasked, whatever carries them: a message, its arguments, an exception's text, a
traceback, a JSON payload, or a traceback printed straight to stderr (eventlet's hub)."""
from __future__ import annotations

import json
import logging
import logging.config
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

from shared.correlation import current as current_correlation
from shared.personal import mask

__all__ = ["JsonFormatter", "MaskingFilter", "MaskingFormatter", "MaskingStream", "configure_logging", "logging_config", "mask"]


class MaskingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = mask(record.getMessage())
        record.args = None
        return True


class MaskingFormatter(logging.Formatter):
    """Masks the whole formatted line, the exception and stack text included."""

    def format(self, record: logging.LogRecord) -> str:
        return mask(super().format(record))


class MaskingStream:
    """A text stream that masks what is written to it (stderr, where tracebacks land)."""

    def __init__(self, inner: TextIO) -> None:
        self._inner = inner

    def write(self, text: str) -> int:
        self._inner.write(mask(text))
        return len(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class JsonFormatter(logging.Formatter):
    """One JSON object per line (``ONETRIP_LOG_FORMAT=json``), masked like the plain lines:
    ``at``, ``level``, ``logger``, ``message``, the process's ``service``, the
    ``correlation_id`` of the request being served where one is known, and ``error`` with
    the traceback."""

    def __init__(self, service: str = "") -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "at": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": mask(record.getMessage()),
            "service": self.service,
        }
        correlation = getattr(record, "correlation_id", None) or current_correlation()
        if correlation:
            line["correlation_id"] = correlation
        if record.exc_info:
            line["error"] = mask(self.formatException(record.exc_info))
        return json.dumps(line, ensure_ascii=False)


def logging_config(level: str = "INFO", style: str = "text", service: str = "") -> dict[str, Any]:
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"mask": {"()": MaskingFilter}},
        "formatters": {
            "plain": {
                "()": MaskingFormatter,
                "format": "%(asctime)s %(levelname)s %(name)s: %(message)s",
            },
            "json": {"()": JsonFormatter, "service": service},
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": "json" if style == "json" else "plain",
                "filters": ["mask"],
            }
        },
        "root": {"level": level, "handlers": ["console"]},
        "loggers": {"amqp": {"level": "WARNING"}, "kombu": {"level": "WARNING"}},
    }


def configure_logging(level: str = "INFO", style: str = "text", service: str = "") -> None:
    """Logging for a service process; what else reaches stdout or stderr is masked too."""
    if not isinstance(sys.stderr, MaskingStream):
        sys.stdout = MaskingStream(sys.stdout)  # type: ignore[assignment]
        sys.stderr = MaskingStream(sys.stderr)  # type: ignore[assignment]
    logging.config.dictConfig(logging_config(level, style, service))
