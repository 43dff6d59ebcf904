"""The chain head, signed and kept outside the ledger database, so a cut-off tail shows.

The file (``ONETRIP_AUDIT_CHECKPOINT``, default ``var/audit-checkpoint.json``) holds one
signed head per ledger database: ``{"ledgers": {"<db>": {"seq", "hash", "at", "signature"}}}``.
The signature is HMAC-SHA256 with ``ONETRIP_AUDIT_KEY`` (else ``ONETRIP_SECRET_KEY``) over
``"<db>:<seq>:<hash>"``. It only moves forward.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shared.config import env

DEFAULT_PATH = "var/audit-checkpoint.json"


class CheckpointForgedError(ValueError):
    pass


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    hash: str
    at: str = ""


def checkpoint_path() -> Path:
    return Path(os.environ.get("ONETRIP_AUDIT_CHECKPOINT") or DEFAULT_PATH)


def audit_key() -> bytes:
    return (os.environ.get("ONETRIP_AUDIT_KEY") or env("ONETRIP_SECRET_KEY")).encode("utf-8")


def signature(ledger: str, seq: int, head: str, key: bytes) -> str:
    return hmac.new(key, f"{ledger}:{seq}:{head}".encode(), hashlib.sha256).hexdigest()


class CheckpointFile:
    def __init__(self, ledger: str, path: Path | None = None, key: bytes | None = None) -> None:
        self.ledger = ledger
        self.path = path or checkpoint_path()
        self.key = key or audit_key()

    def read(self) -> Checkpoint | None:
        """The signed head, None before the first; raises when the signature does not hold."""
        record = self._ledgers().get(self.ledger)
        if record is None:
            return None
        expected = signature(self.ledger, int(record["seq"]), str(record["hash"]), self.key)
        if not hmac.compare_digest(expected, str(record.get("signature", ""))):
            raise CheckpointForgedError(f"检查点签名无效：{self.path}")
        return Checkpoint(int(record["seq"]), str(record["hash"]), str(record.get("at", "")))

    def advance(self, seq: int, head: str) -> bool:
        """Record a newer head; an older or equal one changes nothing."""
        current = self.read()
        if current is not None and current.seq >= seq:
            return False
        ledgers = self._ledgers()
        ledgers[self.ledger] = {
            "seq": seq,
            "hash": head,
            "at": datetime.now(UTC).isoformat(),
            "signature": signature(self.ledger, seq, head, self.key),
        }
        self._write({"ledgers": ledgers})
        return True

    def _ledgers(self) -> dict[str, Any]:
        if not self.path.exists():
            return {}
        content = json.loads(self.path.read_text(encoding="utf-8") or "{}")
        return dict(content.get("ledgers", {}))

    def _write(self, content: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        with open(temporary, "w", encoding="utf-8") as file:
            json.dump(content, file, ensure_ascii=False, indent=2)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, self.path)
