"""Message texts from the Jinja2 templates in ``templates/``, and SMS segmentation."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined, TemplateNotFound

from shared.departments import department_name

TEMPLATES_DIR = Path(__file__).parent / "templates"
SMS_SINGLE = 70  # UCS-2: one segment holds 70 characters
SMS_PART = 67  # a concatenated SMS spends 3 characters of each segment on its header
SMS_MAX_SEGMENTS = 5
SMS_TRUNCATED = "…详见站内信"
DEFAULT_SIGNATURE = "【最多跑一趟】"


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str


def day(value: Any) -> str:
    if not value:
        return ""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return f"{moment.month}月{moment.day}日{moment:%H:%M}"


class Templates:
    def __init__(self, override_dir: str | None = None, signature: str | None = None) -> None:
        override = override_dir
        loaders = [FileSystemLoader(override)] if override else []
        self.env = Environment(
            loader=ChoiceLoader([*loaders, FileSystemLoader(TEMPLATES_DIR)]),
            undefined=StrictUndefined,
            autoescape=False,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters.update(dept=department_name, day=day)
        self.signature = signature or DEFAULT_SIGNATURE

    def has(self, kind: str, channel: str) -> bool:
        try:
            self.env.get_template(_name(kind, channel))
        except TemplateNotFound:
            return False
        return True

    def render(self, kind: str, channel: str, context: dict[str, Any]) -> Rendered:
        text = self.env.get_template(_name(kind, channel)).render(signature=self.signature, **context)
        if channel == "email":
            subject, _, body = text.partition("\n")
            return Rendered(subject.strip(), body.strip() + "\n")
        if channel == "sms":
            return Rendered("", fit_sms(_one_line(text)))
        return Rendered("", text.strip())


def _name(kind: str, channel: str) -> str:
    return f"{kind}.{channel}.j2"


def _one_line(text: str) -> str:
    return re.sub(r"\s*\n\s*", "", text).strip()


def sms_segments(text: str) -> list[str]:
    if len(text) <= SMS_SINGLE:
        return [text]
    return [text[i : i + SMS_PART] for i in range(0, len(text), SMS_PART)]


def fit_sms(text: str) -> str:
    limit = SMS_PART * SMS_MAX_SEGMENTS
    if len(text) <= limit:
        return text
    return text[: limit - len(SMS_TRUNCATED)] + SMS_TRUNCATED
