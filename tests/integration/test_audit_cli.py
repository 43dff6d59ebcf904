"""An auditor at the terminal: onetrip-audit replay, verify and rebuild."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from services.audit import cli
from tests.unit.audit.support import BWC_COMMENT, audit_application, renovation_story

pytestmark = pytest.mark.integration


def test_replay_prints_the_timeline_and_the_returned_state_and_verify_says_ok(
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given the seed story is in the ledger
    story = renovation_story()
    with audit_application(database_url, tmp_path / "checkpoint.json") as audit:
        for event in story.events:
            audit.consume(event)
    monkeypatch.setenv("DATABASE_URL", database_url)
    moment = story.returned_at + (story.resubmitted_at - story.returned_at) / 2

    # When the auditor replays the case as of the day it was returned
    assert cli.main(["replay", story.case_id, "--as-of", moment.isoformat()]) == 0
    printed = capsys.readouterr().out

    # Then the timeline ends with the return and the state carries 保卫处's comment
    assert "case_returned" in printed and "case_resubmitted" not in printed
    assert '"status": "returned"' in printed and BWC_COMMENT in printed

    # And verify and rebuild succeed
    assert cli.main(["verify"]) == 0
    assert '"ok": true' in capsys.readouterr().out
    assert cli.main(["rebuild"]) == 0
    assert f"{len(story.events)} 条" in capsys.readouterr().out


def test_after_the_checkpoint_is_lost_the_operator_inspects_and_accepts_the_head(
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given the seed story is in the ledger and its head is checkpointed
    story = renovation_story()
    checkpoint = tmp_path / "checkpoint.json"
    with audit_application(database_url, checkpoint) as audit:
        for event in story.events:
            audit.consume(event)
        assert audit.ledger.verify()["ok"] is True
    monkeypatch.setenv("DATABASE_URL", database_url)
    # When the checkpoint file is lost
    checkpoint.unlink()
    # Then verify fails and says how to re-establish it
    assert cli.main(["verify"]) == 1
    assert "checkpoint --accept" in capsys.readouterr().out
    # When the operator, having inspected the ledger, accepts its current head
    assert cli.main(["checkpoint", "--accept"]) == 0
    accepted = capsys.readouterr()
    assert f'"entries": {len(story.events)}' in accepted.out and "重新签名" in accepted.err
    # Then verify succeeds again
    assert cli.main(["verify"]) == 0
    assert '"ok": true' in capsys.readouterr().out


def test_a_broken_chain_is_not_accepted_as_a_new_checkpoint(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    story = renovation_story()
    with audit_application(database_url, tmp_path / "checkpoint.json") as audit:
        for event in story.events:
            audit.consume(event)
    # Given someone edited an entry and removed the checkpoint
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("UPDATE audit.ledger SET event = replace(event, 'teacher1', 'teacher2') WHERE seq = 1")
    (tmp_path / "checkpoint.json").unlink()
    monkeypatch.setenv("DATABASE_URL", database_url)
    # Then accepting the head is refused
    assert cli.main(["checkpoint", "--accept"]) == 1
    assert not (tmp_path / "checkpoint.json").exists()
