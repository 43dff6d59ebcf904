"""Phone numbers and e-mail addresses, in every form an account may hold, leave a process
only masked: in a message, its arguments, an exception, a traceback or a JSON payload."""
from __future__ import annotations

import itertools
import json
import subprocess
import sys

import pytest
from pydantic import ValidationError

from services.gateway.models import AccountDraft
from shared.logs import mask

SEPARATORS = ("", " ", "-")
COUNTRY = ("", "+86", "+86 ", "+86-", "0086", "0086-")


def mobile_forms() -> list[str]:
    return [f"{country}138{one}0000{two}0001"
            for country, one, two in itertools.product(COUNTRY, SEPARATORS, SEPARATORS)]


def landline_forms() -> list[str]:
    areas = ("10", "29", "755")
    numbers = (("8849", "1234"), ("884", "1234"))
    prefixes = ("0", "+86", "+86 ", "0086-")
    return [f"{prefix}{area}{one}{head}{two}{tail}"
            for prefix, area, (head, tail), one, two
            in itertools.product(prefixes, areas, numbers, SEPARATORS, SEPARATORS)]


def account(phone: str, email: str | None = None) -> AccountDraft:
    return AccountDraft(username="li", name="李老师", department="hkxy", roles=["applicant"],
                        phone=phone, email=email)


def digits(text: str) -> str:
    return "".join(char for char in text if char.isdigit())


@pytest.mark.parametrize("phone", mobile_forms() + landline_forms())
def test_every_phone_form_an_account_accepts_is_masked(phone: str) -> None:
    # Given a phone number in a form the account model accepts
    assert account(phone).phone == phone
    # When a log line carries it
    masked = mask(f"短信发往{phone},请查收")
    # Then no more than the first three and the last four of its number are left
    national = digits(phone.removeprefix("+86").removeprefix("0086"))
    assert phone not in masked and national not in digits(masked)
    assert masked.startswith("短信发往") and masked.endswith(",请查收")
    assert masked.count("*") == len(national) - 7


@pytest.mark.parametrize("phone", ["123", "1380000000", "138000000012", "(029) 88491234", "138_0000_0001"])
def test_other_forms_are_refused_at_registration(phone: str) -> None:
    with pytest.raises(ValidationError):
        account(phone)


def test_every_email_is_masked_and_the_masking_does_not_touch_ids_and_times() -> None:
    payload = json.dumps({"phone": "+86 138 0000 0001", "email": "zhao.laoshi@example.edu.cn",
                          "备用": "张三@学校.cn"}, ensure_ascii=False)
    masked = mask(payload)
    assert json.loads(masked) == {"phone": "+86 138 **** 0001", "email": "z***@example.edu.cn",
                                  "备用": "张***@学校.cn"}
    plain = "办件 2026-000123 0d7b3c52-6a53-4b39-8f0e-2f1f6a7c9e21 于 2026-11-27T10:00:00+08:00"
    assert mask(plain) == plain
    assert account("13800000001", "zhao.laoshi@example.edu.cn").email == "zhao.laoshi@example.edu.cn"


TRACEBACK_SCRIPT = """
import logging, sys, traceback
from shared.logs import configure_logging

configure_logging("INFO")
log = logging.getLogger("gateway")

def look_up(contact):
    raise LookupError(f"没有找到联系人 {contact}")

try:
    look_up({"phone": "+86 138-0000-0001", "email": "li.laoshi@example.edu.cn"})
except LookupError:
    log.exception("directory failed for %s", "138 0000 0001")
    traceback.print_exc()  # as eventlet's hub prints a dying greenthread's traceback
"""


def test_a_traceback_holding_a_phone_number_is_masked() -> None:
    # When a service logs an exception whose text holds a phone number and an e-mail address,
    # and a traceback goes straight to stderr
    run = subprocess.run([sys.executable, "-c", TRACEBACK_SCRIPT], capture_output=True, text=True,
                         timeout=60, check=True)
    output = run.stdout + run.stderr
    # Then both tracebacks are there, and no phone number or address in clear
    assert output.count("Traceback (most recent call last)") == 2
    assert "LookupError: 没有找到联系人" in output
    assert "0000" not in output.replace("****", "")
    assert "138-****-0001" in output and "138 **** 0001" in output
    assert "li.laoshi@" not in output and "l***@example.edu.cn" in output
