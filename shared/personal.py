"""Personal data in text: the phone and e-mail forms an account may hold, declared once, and
their masking. The account model accepts exactly these forms (``PHONE_PATTERN``,
``EMAIL_PATTERN``); ``mask`` finds each of them anywhere in a text."""
from __future__ import annotations

import re

_COUNTRY = r"(?:\+|00)86[ -]?"
_MOBILE = r"1[3-9][0-9](?:[ -]?[0-9]{4}){2}"  # 13800000001, 138 0000 0001, 138-0000-0001
_LANDLINE = r"[1-9][0-9]{1,2}[ -]?[0-9]{3,4}[ -]?[0-9]{4}"  # after 0 or +86: 029-88491234, 010 1234 5678
PHONE_FORM = rf"(?:{_COUNTRY})?{_MOBILE}|(?:{_COUNTRY}|0){_LANDLINE}"
EMAIL_FORM = r"[\w.%+-]+@[\w-]+(?:\.[\w-]+)+"

PHONE_PATTERN = rf"^(?:{PHONE_FORM})$"
EMAIL_PATTERN = rf"^{EMAIL_FORM}$"

_PHONE_IN_TEXT = re.compile(rf"(?<![0-9+])(?:{PHONE_FORM})(?![0-9])")
_EMAIL_IN_TEXT = re.compile(rf"(?<![\w.%+-])({EMAIL_FORM})")
_COUNTRY_PREFIX = re.compile(_COUNTRY)
SHOWN_HEAD, SHOWN_TAIL = 3, 4


def mask(text: str) -> str:
    """Every phone number keeps its first three and last four digits (138****0001, separators
    and +86 as written); every e-mail address its first character and domain (l***@example.edu.cn)."""
    return _EMAIL_IN_TEXT.sub(_masked_email, _PHONE_IN_TEXT.sub(_masked_phone, text))


def _masked_phone(found: re.Match[str]) -> str:
    phone = found.group(0)
    country = _COUNTRY_PREFIX.match(phone)
    prefix = country.group(0) if country else ""
    number = phone[len(prefix):]
    digits = [index for index, char in enumerate(number) if char in "0123456789"]
    hidden = set(digits[SHOWN_HEAD:-SHOWN_TAIL])
    return prefix + "".join("*" if index in hidden else char for index, char in enumerate(number))


def _masked_email(found: re.Match[str]) -> str:
    local, _, domain = found.group(1).rpartition("@")
    return f"{local[0]}***@{domain}"
