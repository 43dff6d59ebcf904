"""Verify's three questions: is the chain intact, does it still reach the signed checkpoint,
and does it hold every event the services published (``LEDGER.md``)."""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import replace
from pathlib import Path
from typing import Any

from psycopg import Connection, Cursor, sql

from services.audit import completeness, ledger
from services.audit.checkpoint import Checkpoint, CheckpointFile, CheckpointForgedError
from shared.config import Settings
from shared.contracts.manifest import Manifest
from shared.sightings import Sighting
from shared.topology import ledger_queues


def no_checkpoint_reason(entries: int, checkpoint_file: CheckpointFile) -> str:
    return (
        f"缺少已签名的检查点：账本已有 {entries} 条记录，但 {checkpoint_file.path} 中没有它的检查点"
        "（文件被删除或被换过），账本末尾的记录是否被删除已无从核对。"
        "核对账本无误后，可用 onetrip-audit checkpoint --accept 重新建立检查点"
    )


class LedgerIntegrity:
    """The audit application's verify, checkpoint and completeness (a mixin: it reads the
    application's schema, ledger name and connections)."""

    schema: str
    ledger_name: str
    recorder: Any
    settings: Settings

    def checkpoint_file(self) -> CheckpointFile:
        audit = self.settings.audit
        return CheckpointFile(self.ledger_name, Path(audit.checkpoint_path), audit.key.encode())

    def _connection(self) -> AbstractContextManager[Connection[Any]]:
        raise NotImplementedError

    def _transaction(self) -> AbstractContextManager[Cursor[Any]]:
        raise NotImplementedError

    # -- verify ----------------------------------------------------------------------------

    def verify(self) -> dict[str, Any]:
        checkpoint_file = self.checkpoint_file()
        with self._connection() as conn:
            chain = ledger.verify_rows(ledger.stream_rows(conn, self.schema))
            try:
                checkpoint = checkpoint_file.read()
            except CheckpointForgedError as exc:
                checkpoint, chain = None, replace(chain, ok=False, reason=str(exc))
            else:
                chain = self._against_checkpoint(conn, chain, checkpoint, checkpoint_file)
        if chain.ok:
            checkpoint_file.advance(chain.entries, chain.head)
        seen = None if checkpoint is None else {"seq": checkpoint.seq, "hash": checkpoint.hash}
        found = self.completeness()
        reason = chain.reason
        if found["missing_total"] and reason is None:
            reason = f"有 {found['missing_total']} 个已发布的事件未记入账本"
        return {
            **chain.as_dict(),
            "ok": chain.ok and not found["missing"],
            "intact": chain.ok,
            "reason": reason,
            "checkpoint": seen,
            **found,
        }

    def _against_checkpoint(
        self,
        conn: Connection[Any],
        result: ledger.Verification,
        checkpoint: Checkpoint | None,
        checkpoint_file: CheckpointFile,
    ) -> ledger.Verification:
        if not result.ok:
            return result
        if checkpoint is None:
            if result.entries == 0:
                return result  # a brand-new ledger: its first checkpoint is the genesis
            reason = no_checkpoint_reason(result.entries, checkpoint_file)
            return ledger.Verification(False, result.entries, result.head, None, reason)
        if result.entries < checkpoint.seq:
            reason = f"账本末尾的记录被删除：检查点记录了 {checkpoint.seq} 条，现只有 {result.entries} 条"
            return ledger.Verification(
                False, result.entries, result.head, result.entries + 1, reason
            )
        if not self._reaches(conn, checkpoint):
            reason = f"第 {checkpoint.seq} 条记录的哈希与已签名的检查点不符，此前的记录被重写"
            return ledger.Verification(False, result.entries, result.head, checkpoint.seq, reason)
        return result

    def _reaches(self, conn: Connection[Any], checkpoint: Checkpoint) -> bool:
        if checkpoint.seq == 0:
            return checkpoint.hash == ledger.GENESIS
        stored = ledger.entry_at(conn, self.schema, checkpoint.seq)
        return stored is not None and stored[1] == checkpoint.hash

    # -- the checkpoint ----------------------------------------------------------------------

    def establish_checkpoint(self) -> None:
        """A ledger with no entries and no checkpoint gets the genesis as its first one, so a
        checkpoint that goes missing later is noticed."""
        checkpoint_file = self.checkpoint_file()
        try:
            if checkpoint_file.read() is not None:
                return
        except CheckpointForgedError:
            return  # verify reports it
        with self._connection() as conn:
            if ledger.count_entries(conn, self.schema) == 0:
                checkpoint_file.advance(0, ledger.GENESIS)

    def advance_checkpoint(self) -> dict[str, Any]:
        """Verify only what was appended since the signed head, then sign the new head."""
        checkpoint_file = self.checkpoint_file()
        try:
            checkpoint = checkpoint_file.read()
        except CheckpointForgedError as exc:
            return {"ok": False, "first_bad_seq": None, "reason": str(exc)}
        if checkpoint is None:
            self.establish_checkpoint()
            checkpoint = checkpoint_file.read()
        with self._connection() as conn:
            if checkpoint is None:
                reason = no_checkpoint_reason(
                    ledger.count_entries(conn, self.schema), checkpoint_file
                )
                return {"ok": False, "first_bad_seq": None, "reason": reason}
            if not self._reaches(conn, checkpoint):
                return {
                    "ok": False,
                    "first_bad_seq": checkpoint.seq,
                    "reason": "检查点处的哈希不符",
                }
            rows = ledger.stream_rows(conn, self.schema, after_seq=checkpoint.seq)
            result = ledger.verify_rows(rows, checkpoint.seq, checkpoint.hash)
        if result.ok and result.entries:
            checkpoint_file.advance(checkpoint.seq + result.entries, result.head)
        return {
            "ok": result.ok,
            "first_bad_seq": result.first_bad_seq,
            "reason": result.reason,
            "seq": checkpoint.seq + result.entries,
        }

    def accept_checkpoint(self) -> dict[str, Any]:
        """Sign the current head whatever the file held, once the chain itself is intact: the
        operator's answer to a lost checkpoint or a new key (``onetrip-audit checkpoint --accept``)."""
        checkpoint_file = self.checkpoint_file()
        try:
            previous = checkpoint_file.read()
            before: dict[str, Any] | None = (
                None if previous is None else {"seq": previous.seq, "hash": previous.hash}
            )
        except CheckpointForgedError as exc:
            before = {"invalid": str(exc)}
        with self._connection() as conn:
            chain = ledger.verify_rows(ledger.stream_rows(conn, self.schema))
        if chain.ok:
            checkpoint_file.replace(chain.entries, chain.head)
        return {"accepted": chain.ok, "previous": before, **chain.as_dict()}

    # -- completeness ------------------------------------------------------------------------

    @property
    def _tracking(self) -> sql.Identifier:
        return sql.Identifier(self.schema, self.recorder.tracking_table_name)

    def completeness(self) -> dict[str, Any]:
        grace = self.settings.audit.grace_seconds
        with self._transaction() as curs:
            missing, total = completeness.missing(
                curs, self.schema, self._tracking, grace, ledger_queues()
            )
            waiting, waiting_total = completeness.waiting_dead_letters(curs, self.schema)
        return {
            "missing": missing,
            "missing_total": total,
            "dead_letters": waiting,
            "dead_letters_total": waiting_total,
            "grace_seconds": grace,
        }

    def record_manifest(self, manifest: Manifest) -> None:
        with self._transaction() as curs:
            completeness.record_manifest(curs, self.schema, self._tracking, manifest)

    def record_sighting(self, sighting: Sighting) -> None:
        with self._transaction() as curs:
            completeness.record_sighting(curs, self.schema, sighting)

    def prune_expected(self) -> int:
        with self._transaction() as curs:
            return completeness.prune(curs, self.schema, self._tracking)

    def _create_completeness_tables(self) -> None:
        with self._transaction() as curs:
            curs.execute("SELECT pg_advisory_xact_lock(hashtext('onetrip-audit-completeness-ddl'))")
            for statement in completeness.create_statements(self.schema):
                curs.execute(statement)
