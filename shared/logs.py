"""Logging: nameko's own error logs stay on, and phone numbers and e-mail addresses never
leave unmasked, whatever carries them: a message, its arguments, an exception's text, a
traceback, a JSON payload, or a traceback printed straight to stderr (eventlet's hub)."""
from __future__ import annotations

import logging
import logging.config
import sys
from typing import Any, TextIO

from shared.personal import mask

__all__ = ["MaskingFilter", "MaskingFormatter", "MaskingStream", "configure_logging", "logging_config", "mask"]


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


def logging_config(level: str = "INFO") -> dict[str, Any]:
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"mask": {"()": MaskingFilter}},
        "formatters": {
            "plain": {
                "()": MaskingFormatter,
                "format": "%(asctime)s %(levelname)s %(name)s: %(message)s",
            }
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": "plain",
                "filters": ["mask"],
            }
        },
        "root": {"level": level, "handlers": ["console"]},
        "loggers": {"amqp": {"level": "WARNING"}, "kombu": {"level": "WARNING"}},
    }


def configure_logging(level: str = "INFO") -> None:
    """Logging for a service process; what else reaches stdout or stderr is masked too."""
    if not isinstance(sys.stderr, MaskingStream):
        sys.stdout = MaskingStream(sys.stdout)  # type: ignore[assignment]
        sys.stderr = MaskingStream(sys.stderr)  # type: ignore[assignment]
    logging.config.dictConfig(logging_config(level))
