"""A case replayed from the ledger: its timeline entries and the case rebuilt from them."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from services.audit import ledger
from shared.casefold import fold, is_case_event
from shared.contracts.approval import Case
from shared.errors import InvalidError
from shared.workdays import SHANGHAI


def parse_moment(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        raise InvalidError(
            f"不是有效的时间：{value}（请用 ISO 8601，如 2026-11-27T10:00:00+08:00）"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=SHANGHAI)


def timeline_entry(seq: int, prev_hash: str, stored_hash: str, text: str) -> dict[str, Any]:
    event = json.loads(text)
    return {
        "seq": seq,
        "type": event["type"],
        "at": event["occurred_at"],
        "actor": event.get("actor"),
        "data": event["data"],
        "hash": stored_hash,
        "prev_hash": prev_hash,
        "service": event["service"],
        "event_id": event["event_id"],
        "aggregate_id": event["aggregate_id"],
        "aggregate_version": event["aggregate_version"],
        "_intact": ledger.chain_hash(prev_hash, text) == stored_hash,
    }


def timeline_order(entry: dict[str, Any]) -> tuple[datetime, int, int]:
    return parse_moment(entry["at"]), entry["aggregate_version"], entry["seq"]


def rebuild_case(entries: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The case from exactly these events, by the one fold in ``shared.casefold``."""
    case_events = sorted(
        (e for e in entries if e["service"] == "approval" and is_case_event(e["type"])),
        key=lambda e: e["aggregate_version"],
    )
    if not case_events or case_events[0]["type"] != "case_submitted":
        return None
    state = fold(
        {"type": e["type"], "data": e["data"], "occurred_at": e["at"], "actor": e["actor"]}
        for e in case_events
    )
    return Case.model_validate(state).model_dump(mode="json") if state is not None else None
