"""The chain rule, verify on rows it is handed, the signed checkpoint and the rectification
deadline, without any server."""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path

import pytest

from services.audit.checkpoint import CheckpointFile, CheckpointForgedError
from services.audit.domain import Rectification
from services.audit.ledger import GENESIS, canonical_json, chain_hash, verify_rows
from shared.errors import ConflictError, ForbiddenError
from shared.workdays import SHANGHAI, WorkingCalendar

EVENT = {
    "type": "node_decided",
    "data": {"department": "bwc", "comment": "请补充消防通道示意图"},
    "actor": "bwc",
}


def chain(texts: list[str]) -> list[tuple[int, bytes, bytes, bytes]]:
    rows, prev = [], GENESIS
    for seq, text in enumerate(texts, start=1):
        digest = chain_hash(prev, text)
        rows.append((seq, prev.encode(), digest.encode(), text.encode("utf-8")))
        prev = digest
    return rows


def test_canonical_json_sorts_keys_keeps_chinese_and_drops_whitespace() -> None:
    assert canonical_json(EVENT) == (
        '{"actor":"bwc","data":{"comment":"请补充消防通道示意图","department":"bwc"},"type":"node_decided"}'
    )
    expected = hashlib.sha256((GENESIS + canonical_json(EVENT)).encode("utf-8")).hexdigest()
    assert chain_hash(GENESIS, canonical_json(EVENT)) == expected


def test_verify_names_the_first_bad_row() -> None:
    rows = chain([canonical_json({**EVENT, "n": n}) for n in range(6)])
    assert verify_rows(iter(rows)).ok is True
    edited = rows[:2] + [(3, rows[2][1], rows[2][2], rows[2][3].replace(b"bwc", b"gzc"))] + rows[3:]
    assert verify_rows(iter(edited)).first_bad_seq == 3
    assert verify_rows(iter(rows[:3] + rows[4:])).first_bad_seq == 4
    swapped = rows[:1] + [(2, *rows[2][1:]), (3, *rows[1][1:])] + rows[3:]
    assert verify_rows(iter(swapped)).first_bad_seq == 2


def test_the_checkpoint_moves_forward_only_and_a_forgery_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "checkpoint.json"
    checkpoints = CheckpointFile("onetrip/audit", path, key=b"secret")
    assert checkpoints.read() is None
    assert checkpoints.advance(10, "a" * 64) is True
    assert checkpoints.advance(5, "b" * 64) is False
    assert (checkpoints.read().seq, checkpoints.read().hash) == (10, "a" * 64)  # type: ignore[union-attr]
    with pytest.raises(CheckpointForgedError):
        CheckpointFile("onetrip/audit", path, key=b"another key").read()


def test_a_rectification_deadline_skips_weekends_and_the_national_day_holiday() -> None:
    working_deadline = WorkingCalendar.statutory().due_at
    friday = datetime(2026, 9, 25, 15, 0, tzinfo=SHANGHAI)
    assert working_deadline(friday, 5).isoformat() == "2026-10-09T23:59:59+08:00"
    assert (
        working_deadline(datetime(2026, 11, 2, 9, 0, tzinfo=SHANGHAI), 5).date().isoformat()
        == "2026-11-09"
    )


def test_a_rectification_runs_awaiting_rectifying_done() -> None:
    rectification = Rectification(
        case_id="case-li",
        item_id="gongfang-zhuangxiu",
        item_name="公房装修改造申请",
        department="gzc",
        applicant="teacher1",
        score=1,
        comment="跑了三趟",
        rated_at="2026-11-02T10:00:00+08:00",
        deadline="2026-11-09T23:59:59+08:00",
    )
    with pytest.raises(ForbiddenError):
        rectification.start("bwc", "bwc", "2026-11-03T09:00:00+08:00")
    rectification.start("gzc", "gzc", "2026-11-03T09:00:00+08:00")
    with pytest.raises(ConflictError):
        rectification.start("gzc", "gzc", "2026-11-03T10:00:00+08:00")
    rectification.complete("已改为全程网办", "gzc", "gzc", "2026-11-04T09:00:00+08:00")
    assert (rectification.status, rectification.reply) == ("done", "已改为全程网办")
    assert rectification.flag_overdue(datetime(2026, 11, 20, tzinfo=SHANGHAI)) is False
    assert [type(e).__name__ for e in rectification.collect_events()] == [
        "Opened",
        "Started",
        "Completed",
    ]
