"""The audit ledger: every integration event the hall's services publish, appended once to the
hash-chained ledger, verified against the signed checkpoint and replayed as a case's history.

It is the leader of the audit's small system (``services.audit.hall``): its notification log
is the ledger itself, which the rectifications and the supervision figures follow.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any

from eventsourcing.application import NotificationLog, ProcessingEvent
from psycopg import Connection, Cursor

from services.audit import ledger
from services.audit.integrity import LedgerIntegrity
from services.audit.ledgerlog import LedgerLog
from services.audit.replay import parse_moment, rebuild_case, timeline_entry, timeline_order
from shared.config import Settings
from shared.contracts import IntegrationEvent
from shared.errors import NotFoundError
from shared.eventstore import ConsumingApplication
from shared.followers import Tables


class AppendFaultError(RuntimeError):
    """Raised on purpose when a test asks for it (``ONETRIP_FAULT=audit_append:<type>``)."""


class AuditLedger(LedgerIntegrity, ConsumingApplication):
    name = "audit"
    service = "audit"

    def __init__(self, env: dict[str, str] | None = None, settings: Settings | None = None) -> None:
        topic = "services.audit.ledger:LedgerRecorder"
        super().__init__({**(env or {}), "PROCESS_RECORDER_TOPIC": topic})
        self.settings = settings or Settings()
        self.tables = Tables.of(self)
        self.schema = self.tables.schema
        self.ledger_name = f"{self.env.get('POSTGRES_DBNAME', 'onetrip')}/{self.schema}"
        self._create_completeness_tables()
        self.establish_checkpoint()

    def construct_notification_log(self) -> NotificationLog:
        return LedgerLog(Tables.of(self))

    # -- the ledger ----------------------------------------------------------------------

    def policy(self, domain_event: Any, processing_event: ProcessingEvent[Any]) -> None:
        event: IntegrationEvent = domain_event
        if self.settings.fault == f"audit_append:{event.type}":
            raise AppendFaultError(f"故障注入：审计服务无法记入 {event.type} 事件")
        processing_event.collect_events(ledger_entry=ledger.canonical_json(event.to_wire()))

    def entries(self) -> int:
        with self._connection() as conn:
            return ledger.count_entries(conn, self.schema)

    # -- replay --------------------------------------------------------------------------

    def case_history(self, case_id: str, as_of: str | None = None) -> dict[str, Any]:
        cutoff = parse_moment(as_of) if as_of else datetime.now(UTC)
        with self._connection() as conn:
            rows = ledger.case_entries(conn, self.schema, case_id)
        if not rows:
            raise NotFoundError(f"账本中没有办件 {case_id} 的记录")
        entries = [timeline_entry(*row) for row in rows]
        shown = sorted(
            (entry for entry in entries if parse_moment(entry["at"]) <= cutoff), key=timeline_order
        )
        intact = [entry.pop("_intact") for entry in shown]
        return {
            "case_id": case_id,
            "as_of": cutoff.isoformat(),
            "events": shown,
            "state": rebuild_case(shown),
            "intact": all(intact),
        }

    # -- plumbing ----------------------------------------------------------------------------

    def _connection(self) -> AbstractContextManager[Connection[Any]]:
        return self.tables.connection()

    def _transaction(self) -> AbstractContextManager[Cursor[Any]]:
        return self.tables.transaction(commit=True)
