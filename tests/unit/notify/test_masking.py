"""Phone numbers and e-mail addresses leave the service only masked."""
from __future__ import annotations

import logging

from shared.logs import MaskingFilter, mask


def test_phones_and_emails_are_masked() -> None:
    assert mask("sent sms to 13800000001") == "sent sms to 138****0001"
    assert mask("to li.laoshi@example.edu.cn") == "to l***@example.edu.cn"


def test_the_log_filter_masks_arguments_too() -> None:
    record = logging.LogRecord("notify", logging.INFO, __file__, 1, "sent to %s", ("13900000005",), None)
    MaskingFilter().filter(record)
    assert record.getMessage() == "sent to 139****0005"
