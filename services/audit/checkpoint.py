"""The chain head, signed and kept outside the ledger database, so a cut-off tail shows.

The file (``ONETRIP_AUDIT_CHECKPOINT``, default ``var/audit-checkpoint.json``) holds one
signed head per ledger database: ``{"ledgers": {"<db>": {"seq", "hash", "at", "signature"}}}``.
The signature is HMAC-SHA256 with ``ONETRIP_AUDIT_KEY`` (a key of its own, not the token
key) over ``"<db>:<seq>:<hash>"``. It only moves forward, except when an operator accepts
the current head (``onetrip-audit checkpoint --accept``). A ledger's first checkpoint is the
genesis (seq 0), written while it is empty: a ledger with entries and no checkpoint is a
checkpoint that went missing.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


class CheckpointForgedError(ValueError):
    pass


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    hash: str
    at: str = ""


def signature(ledger: str, seq: int, head: str, key: bytes) -> str:
    return hmac.new(key, f"{ledger}:{seq}:{head}".encode(), hashlib.sha256).hexdigest()


class CheckpointFile:
    def __init__(self, ledger: str, path: Path, key: bytes) -> None:
        self.ledger = ledger
        self.path = path
        self.key = key

    def read(self) -> Checkpoint | None:
        """The signed head, None when there is none; raises when the signature does not hold."""
        record = self._ledgers().get(self.ledger)
        if record is None:
            return None
        expected = signature(self.ledger, int(record["seq"]), str(record["hash"]), self.key)
        if not hmac.compare_digest(expected, str(record.get("signature", ""))):
            raise CheckpointForgedError(f"检查点签名无效：{self.path}")
        return Checkpoint(int(record["seq"]), str(record["hash"]), str(record.get("at", "")))

    def advance(self, seq: int, head: str) -> bool:
        """Record a newer head; an older or equal one changes nothing."""
        with self._locked():
            current = self.read()
            if current is not None and current.seq >= seq:
                return False
            self._put(seq, head)
            return True

    def replace(self, seq: int, head: str) -> None:
        """Sign this head whatever the file held for the ledger (forged, older, newer, none)."""
        with self._locked():
            self._put(seq, head)

    def _put(self, seq: int, head: str) -> None:
        ledgers = self._ledgers()
        ledgers[self.ledger] = {
            "seq": seq,
            "hash": head,
            "at": datetime.now(UTC).isoformat(),
            "signature": signature(self.ledger, seq, head, self.key),
        }
        self._write({"ledgers": ledgers})

    @contextmanager
    def _locked(self) -> Iterator[None]:
        # Several audit processes on one host write the same file: one at a time.
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_name(f".{self.path.name}.lock"), "a") as lock:
            while True:  # never block the process: under eventlet, sleep lets others run
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    time.sleep(0.01)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _ledgers(self) -> dict[str, Any]:
        if not self.path.exists():
            return {}
        content = json.loads(self.path.read_text(encoding="utf-8") or "{}")
        return dict(content.get("ledgers", {}))

    def _write(self, content: dict[str, Any]) -> None:
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        with open(temporary, "w", encoding="utf-8") as file:
            json.dump(content, file, ensure_ascii=False, indent=2)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, self.path)
