"""The ledger holds every event once, in a chain anyone can recompute; verify names the
first entry an edit, deletion, swap or cut-off tail made directly in PostgreSQL spoils;
a replay rebuilds the case as it stood at any moment."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest

from services.audit.hall import AuditHall
from shared.contracts import IntegrationEvent
from shared.contracts.approval import Case
from tests.unit.audit.support import (
    BWC_COMMENT,
    RenovationStory,
    audit_application,
    generated_history,
    renovation_story,
)

pytestmark = pytest.mark.integration

LEDGER_MD = Path(__file__).resolve().parents[2] / "services" / "audit" / "LEDGER.md"


@pytest.fixture
def audit(database_url: str, tmp_path: Path) -> Iterator[AuditHall]:
    with audit_application(database_url, tmp_path / "audit-checkpoint.json") as app:
        yield app


@pytest.fixture
def story() -> RenovationStory:
    return renovation_story()


def consume_all(audit: AuditHall, events: list[IntegrationEvent]) -> None:
    for event in events:
        assert audit.consume(event)


def sql(database_url: str, statement: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(statement)


def test_the_seed_story_is_in_the_ledger_in_order_verifies_and_replays_at_any_moment(
    audit: AuditHall, story: RenovationStory
) -> None:
    # Given 李老师's renovation case went through return, resubmission and approval
    # When the audit service consumes every event the approval service published
    consume_all(audit, story.events)

    # Then the ledger holds each of them once, in the order received, and verifies
    assert audit.ledger.entries() == len(story.events)
    first = audit.ledger.verify()
    assert (first["ok"], first["entries"], first["first_bad_seq"]) == (
        True,
        len(story.events),
        None,
    )
    # And its head is now signed outside the database
    assert audit.ledger.verify()["checkpoint"] == {"seq": len(story.events), "hash": first["head"]}
    history = audit.ledger.case_history(story.case_id)
    assert [event["seq"] for event in history["events"]] == list(range(1, len(story.events) + 1))
    assert [event["type"] for event in history["events"]] == [event.type for event in story.events]
    assert history["events"][0]["prev_hash"] == "0" * 64
    assert history["events"][-1]["hash"] == first["head"]
    # And the case rebuilt from the ledger is the approval service's own case
    assert history["state"] == Case.model_validate(story.final_case).model_dump(mode="json")
    assert history["state"]["status"] == "approved"
    assert history["state"]["rating"] == {"score": 5, "comment": "全程网上办理，一趟没跑"}

    # When an auditor replays it as of a moment between the return and the resubmission
    moment = story.returned_at + (story.resubmitted_at - story.returned_at) / 2
    replayed = audit.ledger.case_history(story.case_id, as_of=moment.isoformat())

    # Then the case is returned, carrying 保卫处's comment, and nothing after shows
    assert replayed["state"]["status"] == "returned"
    assert replayed["state"]["return_comments"] == [
        {"node_id": "bwc", "department": "bwc", "comment": BWC_COMMENT}
    ]
    assert replayed["events"][-1]["type"] == "case_returned"
    assert "case_resubmitted" not in {event["type"] for event in replayed["events"]}
    assert replayed["intact"] is True


def test_a_redelivered_event_is_appended_once(
    audit: AuditHall, story: RenovationStory
) -> None:
    # Given the first three events are in the ledger
    consume_all(audit, story.events[:3])
    # When the broker delivers the second one again
    again = audit.consume(story.events[1])
    # Then nothing is appended and the chain still verifies
    assert again is False
    assert audit.ledger.entries() == 3
    assert audit.ledger.verify()["ok"] is True


@pytest.fixture
def twenty(audit: AuditHall, database_url: str) -> AuditHall:
    """A ledger of twenty entries whose head is checkpointed outside the database."""
    consume_all(audit, generated_history(6)[:20])
    assert audit.ledger.verify()["ok"] is True
    return audit


def test_an_edited_row_is_named(twenty: AuditHall, database_url: str) -> None:
    # When someone changes who acted in entry 7, directly in PostgreSQL
    sql(
        database_url,
        'UPDATE audit.ledger SET event = replace(event, \'"actor":"\', \'"actor":"篡改-\') WHERE seq = 7',
    )
    # Then verify fails at entry 7
    result = twenty.ledger.verify()
    assert (result["ok"], result["first_bad_seq"], result["entries"]) == (False, 7, 6)


def test_a_deleted_row_is_named(twenty: AuditHall, database_url: str) -> None:
    sql(database_url, "DELETE FROM audit.ledger WHERE seq = 12")
    result = twenty.ledger.verify()
    assert (result["ok"], result["first_bad_seq"]) == (False, 12)


def test_two_swapped_rows_are_named(twenty: AuditHall, database_url: str) -> None:
    # When entries 5 and 9 trade places (their seq numbers are exchanged)
    sql(
        database_url,
        "UPDATE audit.ledger SET seq = CASE seq WHEN 5 THEN -9 ELSE -5 END WHERE seq IN (5, 9);"
        "UPDATE audit.ledger SET seq = -seq WHERE seq < 0",
    )
    result = twenty.ledger.verify()
    assert (result["ok"], result["first_bad_seq"]) == (False, 5)


def test_swapped_contents_are_named(twenty: AuditHall, database_url: str) -> None:
    # When the events of entries 3 and 4 are exchanged, hashes left in place
    sql(
        database_url,
        "UPDATE audit.ledger AS a SET event = b.event FROM audit.ledger AS b "
        "WHERE (a.seq, b.seq) IN ((3, 4), (4, 3))",
    )
    result = twenty.ledger.verify()
    assert (result["ok"], result["first_bad_seq"]) == (False, 3)


def test_a_cut_off_tail_is_caught_by_the_signed_checkpoint(
    twenty: AuditHall, database_url: str
) -> None:
    # When the last three entries are deleted (the rest of the chain is still consistent)
    sql(database_url, "DELETE FROM audit.ledger WHERE seq > 17")
    # Then verify compares with the head signed outside the database and names entry 18
    result = twenty.ledger.verify()
    assert (result["ok"], result["first_bad_seq"], result["entries"]) == (False, 18, 17)
    assert "删除" in result["reason"]


def test_a_rewritten_chain_is_caught_by_the_signed_checkpoint(
    twenty: AuditHall, database_url: str
) -> None:
    # When someone edits entry 2 and recomputes every later hash so the chain is consistent
    with psycopg.connect(database_url, autocommit=True) as conn:
        rows = conn.execute("SELECT seq, event FROM audit.ledger ORDER BY seq").fetchall()
        prev = "0" * 64
        for seq, event in rows:
            text = event.replace('"actor":"', '"actor":"篡改-') if seq == 2 else event
            digest = recompute(prev, text)
            conn.execute(
                "UPDATE audit.ledger SET event=%s, prev_hash=%s, hash=%s WHERE seq=%s",
                (text, prev, digest, seq),
            )
            prev = digest
    # Then the chain alone looks fine but the signed head no longer matches
    result = twenty.ledger.verify()
    assert (result["ok"], result["first_bad_seq"]) == (False, 20)


def test_a_forged_checkpoint_is_refused(twenty: AuditHall, tmp_path: Path) -> None:
    # When someone lowers the checkpoint to hide a deletion, without the key
    path = tmp_path / "audit-checkpoint.json"
    content = json.loads(path.read_text(encoding="utf-8"))
    for record in content["ledgers"].values():
        record["seq"] = 3
    path.write_text(json.dumps(content), encoding="utf-8")
    # Then verify refuses the checkpoint
    result = twenty.ledger.verify()
    assert result["ok"] is False and "签名" in result["reason"]


def test_the_documented_rule_recomputes_the_head(
    twenty: AuditHall, database_url: str
) -> None:
    # Given the snippet in LEDGER.md, run as an outsider would, on the rows read from PostgreSQL
    snippet = re.search(r"```python\n(.*?)```", LEDGER_MD.read_text(encoding="utf-8"), re.DOTALL)
    assert snippet is not None
    namespace: dict[str, object] = {}
    exec(snippet.group(1), namespace)  # noqa: S102
    with psycopg.connect(database_url) as conn:
        rows = conn.execute("SELECT seq, event, hash FROM audit.ledger ORDER BY seq").fetchall()
    # Then recomputing from the event objects alone gives every stored hash
    head = "0" * 64
    for _, event, stored in rows:
        head = namespace["next_hash"](head, json.loads(event))  # type: ignore[operator]
        assert head == stored
    assert head == twenty.ledger.verify()["head"]


def recompute(prev: str, text: str) -> str:
    import hashlib

    return hashlib.sha256((prev + text).encode("utf-8")).hexdigest()


def test_replay_before_the_submission_has_no_state_and_a_bad_time_is_refused(
    audit: AuditHall, story: RenovationStory
) -> None:
    consume_all(audit, story.events[:5])
    before = story.events[0].occurred_at - timedelta(minutes=1)
    assert audit.ledger.case_history(story.case_id, as_of=before.isoformat()) | {"as_of": None} == {
        "case_id": story.case_id,
        "as_of": None,
        "events": [],
        "state": None,
        "intact": True,
    }
    from shared.errors import InvalidError, NotFoundError

    with pytest.raises(InvalidError):
        audit.ledger.case_history(story.case_id, as_of="昨天")
    with pytest.raises(NotFoundError):
        audit.ledger.case_history("no-such-case")


def test_a_deleted_checkpoint_fails_verify_and_a_tail_cut_after_it_does_not_go_unnoticed(
    twenty: AuditHall, database_url: str, tmp_path: Path
) -> None:
    # When someone deletes the checkpoint file and then cuts the last three entries
    (tmp_path / "audit-checkpoint.json").unlink()
    sql(database_url, "DELETE FROM audit.ledger WHERE seq > 17")
    # Then verify does not take the missing file for "no checkpoint yet"
    result = twenty.ledger.verify()
    assert (result["ok"], result["entries"], result["checkpoint"]) == (False, 17, None)
    assert "缺少已签名的检查点" in result["reason"] and "checkpoint --accept" in result["reason"]
    # And neither the running service's periodic check nor another verify signs it again
    assert twenty.ledger.advance_checkpoint()["ok"] is False
    assert twenty.ledger.verify()["ok"] is False
    assert not (tmp_path / "audit-checkpoint.json").exists()


def test_a_brand_new_ledger_starts_with_the_genesis_as_its_checkpoint(
    audit: AuditHall, story: RenovationStory, tmp_path: Path
) -> None:
    # Given a ledger that has never held an entry
    first = audit.ledger.verify()
    assert (first["ok"], first["entries"], first["checkpoint"]) == (True, 0, {"seq": 0, "hash": "0" * 64})
    # When its first events arrive, they verify against that genesis and move it forward
    consume_all(audit, story.events[:2])
    assert audit.ledger.verify()["ok"] is True
    assert audit.ledger.verify()["checkpoint"]["seq"] == 2


def test_the_checkpoint_is_signed_with_its_own_key_not_the_token_key(
    twenty: AuditHall, monkeypatch: pytest.MonkeyPatch, database_url: str, tmp_path: Path
) -> None:
    # When the audit service starts again after a rotation of the token key (ONETRIP_SECRET_KEY)
    monkeypatch.setenv("ONETRIP_SECRET_KEY", "a-new-token-key-for-the-gateway-0123456789")
    checkpoint = tmp_path / "audit-checkpoint.json"
    with audit_application(database_url, checkpoint) as restarted:
        # Then the checkpoint still holds
        assert restarted.ledger.verify()["ok"] is True
    # But started with another audit key it does not
    monkeypatch.setenv("ONETRIP_AUDIT_KEY", "another-audit-key-0123456789abcdef")
    with audit_application(database_url, checkpoint) as restarted:
        result = restarted.ledger.verify()
    assert result["ok"] is False and "签名无效" in result["reason"]
