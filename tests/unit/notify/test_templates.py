"""Templates: every kind renders in Chinese on every channel, and SMS fit their segments."""
from __future__ import annotations

from pathlib import Path

import pytest

from services.notify.audience import HEARD
from services.notify.directory import Contact
from services.notify.messages import (
    SMS_MAX_SEGMENTS,
    SMS_PART,
    SMS_SINGLE,
    TEMPLATES_DIR,
    Templates,
    fit_sms,
    sms_segments,
)
from tests.unit.notify.fakes import CASE_ID, EXAMPLES, ITEM, ITEM_EXAMPLES

RECIPIENT = Contact("teacher1", "李老师", "hkxy", "13800000001", None)


def context(kind: str) -> dict:
    base = {"case_id": CASE_ID, **ITEM, "applicant": "teacher1", "lead_department": "gzc",
            "departments": ["gzc"], "recipient": RECIPIENT}
    if kind.startswith("item_"):
        base = {"item_id": "baowei-dengji", "item_name": "保卫处登记事项", "department": "bwc",
                "case_id": None, "recipient": RECIPIENT, **ITEM_EXAMPLES[kind]}
        return base
    return {**base, **EXAMPLES[kind]}


@pytest.mark.parametrize("kind", sorted(HEARD))
@pytest.mark.parametrize("channel", ["sms", "email", "inbox"])
def test_every_kind_has_a_chinese_template_per_channel(kind: str, channel: str) -> None:
    rendered = Templates(override_dir="").render(kind, channel, context(kind))
    assert rendered.text and any("\u4e00" <= ch <= "\u9fff" for ch in rendered.text)
    assert "{{" not in rendered.text
    if channel == "email":
        assert rendered.subject and "\n" not in rendered.subject


@pytest.mark.parametrize("kind", sorted(HEARD))
def test_each_sms_of_the_demo_fits_one_70_character_segment(kind: str) -> None:
    text = Templates(override_dir="").render(kind, "sms", context(kind)).text
    assert len(text) <= SMS_SINGLE, f"{kind}: {len(text)} characters: {text}"
    assert text.startswith("【最多跑一趟】")


def test_a_long_sms_is_split_into_67_character_segments() -> None:
    text = "请补充消防通道的设计说明" * 12
    parts = sms_segments(text)
    assert len(parts) == -(-len(text) // SMS_PART) and "".join(parts) == text
    assert all(len(part) <= SMS_PART for part in parts)
    assert sms_segments("办理成功") == ["办理成功"]


def test_an_overlong_sms_is_cut_to_five_segments_and_points_to_the_inbox() -> None:
    fitted = fit_sms("意" * 1000)
    assert len(fitted) == SMS_PART * SMS_MAX_SEGMENTS and fitted.endswith("详见站内信")
    assert all(len(part) <= SMS_SINGLE for part in sms_segments(fitted))


def test_a_department_overrides_a_template_with_a_file_of_its_own(tmp_path: Path) -> None:
    # Given 国资处 rewrites the approval SMS in its own directory
    (tmp_path / "case_approved.sms.j2").write_text("{{ signature }}办件{{ case_id }}办理成功，请到国资处领取批复。")
    # When
    text = Templates(override_dir=str(tmp_path)).render("case_approved", "sms", context("case_approved")).text
    # Then the override wins and the others stay
    assert text.endswith("请到国资处领取批复。")
    assert (TEMPLATES_DIR / "case_approved.sms.j2").exists()
    assert Templates(override_dir=str(tmp_path)).has("case_returned", "sms")
