"""A relay's manifest draft: the stretch of the log published since the last manifest, and
only the notifications that became integration events."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from shared.contracts.manifest import Manifest, ManifestEntry
from shared.relay import BATCH_SIZE, ManifestDraft

CASE_SUBMITTED = (11, str(uuid.uuid4()), "case_submitted")
NODE_OPENED = (13, str(uuid.uuid4()), "node_opened")


def test_a_draft_lists_what_was_published_in_its_stretch() -> None:
    # Given a relay whose last manifest reached notification 10
    draft = ManifestDraft(10)
    assert not draft.pending and draft.due_in() == float("inf")
    # When a batch up to 14 is confirmed, two of its notifications published (12 and 14 private)
    draft.extend([CASE_SUBMITTED, NODE_OPENED], 14)
    # Then the manifest covers (10, 14] and lists exactly those two
    manifest = draft.manifest("approval", "approval")
    assert (manifest.after, manifest.through) == (10, 14)
    assert [(e.notification_id, e.type) for e in manifest.events] == [
        (11, "case_submitted"),
        (13, "node_opened"),
    ]
    assert draft.pending and 0 <= draft.due_in() <= 1.0


def test_a_relay_set_back_lists_only_what_no_manifest_listed() -> None:
    draft = ManifestDraft(12)
    draft.extend([CASE_SUBMITTED, NODE_OPENED], 13)
    assert [e.notification_id for e in draft.manifest("approval", "approval").events] == [13]


def test_a_draft_is_full_before_a_batch_could_overflow_a_manifest() -> None:
    draft = ManifestDraft(0)
    entries = [(n, str(uuid.uuid4()), "node_opened") for n in range(1, 1_000 - BATCH_SIZE + 2)]
    draft.extend(entries, len(entries))
    assert draft.full


def test_a_manifest_listing_a_notification_outside_its_stretch_is_refused() -> None:
    entry = ManifestEntry(notification_id=20, event_id=uuid.uuid4(), type="case_submitted")
    with pytest.raises(ValidationError):
        Manifest(
            service="approval",
            application="approval",
            after=10,
            through=14,
            published_at=datetime.now(UTC),
            events=[entry],
        )
