"""How fast the audit ledger appends, verifies and replays, against raw INSERTs in the same run.

    .venv/bin/python bench/audit.py [--entries 100000] [--appends 1000]

On a throwaway database (dropped afterwards):
  (a)  raw psycopg single-row INSERT of a ledger-sized row, autocommit, rows/s;
  (b)  ledger appends/s while consuming: ``AuditHall.consume()`` of approval events,
       one transaction each (tracking row + advisory lock + chained INSERT), one caller;
  (b4) the same with four concurrent callers (threads), as the service's workers do;
  (c)  ``verify()`` over the whole ledger (``--entries``, default 100,000), entries/s;
  (d)  replay of one case (``case_history``) among them, median ms of 20;
  (a') the raw INSERT again, to show how much the shared machine drifted.
The bulk of the ledger for (c) and (d) is written with COPY, each hash chained in Python by
the rule of LEDGER.md, then extended through the application, so verify reads one chain.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
warnings.filterwarnings("ignore", message=r"(?s).*Eventlet is deprecated")
os.environ.setdefault("PSYCOPG_WAIT_FUNC", "wait_select")

import psycopg
from psycopg import sql

from services.audit import ledger
from services.audit.hall import AuditHall
from shared.config import DEFAULTS, Database, Settings
from shared.contracts import IntegrationEvent
from shared.eventstore import application_env, ensure_schema
from tests.unit.audit.support import generated_history


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@contextmanager
def throwaway_database(base_url: str) -> Iterator[str]:
    base = Database.from_url(base_url)
    name = f"onetrip_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(base.conninfo("postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield base_url.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(base.conninfo("postgres"), autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def raw_inserts(database_url: str, rows: int, text: str) -> float:
    with psycopg.connect(Database.from_url(database_url).conninfo(), autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS raw_baseline (seq bigserial PRIMARY KEY, prev_hash text, hash text, event text)"
        )
        started = time.perf_counter()
        for _ in range(rows):
            conn.execute(
                "INSERT INTO raw_baseline (prev_hash, hash, event) VALUES (%s, %s, %s)",
                (ledger.GENESIS, ledger.GENESIS, text),
            )
        elapsed = time.perf_counter() - started
        conn.execute("DROP TABLE raw_baseline")
    return rows / elapsed


def consume_rate(app: AuditHall, events: list[IntegrationEvent], callers: int) -> float:
    chunks = [events[i::callers] for i in range(callers)]
    started = time.perf_counter()
    threads = [
        threading.Thread(target=lambda chunk=chunk: [app.consume(e) for e in chunk])
        for chunk in chunks
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return len(events) / (time.perf_counter() - started)


def bulk_ledger(database_url: str, events: list[IntegrationEvent], entries: int) -> None:
    """Append ``entries`` rows with COPY, chained after the current head."""
    texts = [ledger.canonical_json(event.to_wire()) for event in events]
    with psycopg.connect(Database.from_url(database_url).conninfo()) as conn:
        head = conn.execute(
            "SELECT seq, hash FROM audit.ledger ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        seq, prev = head if head else (0, ledger.GENESIS)
        with conn.cursor().copy(
            "COPY audit.ledger (seq, prev_hash, hash, event) FROM STDIN"
        ) as copy:
            for index in range(entries):
                cycle, position = divmod(index, len(texts))
                text = texts[position].replace('"case_id":"case-', f'"case_id":"c{cycle}-case-')
                digest = ledger.chain_hash(prev, text)
                seq += 1
                copy.write_row((seq, prev, digest, text))
                prev = digest
        conn.commit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--appends", type=int, default=1_000)
    args = parser.parse_args()
    base_url = os.environ.get("DATABASE_URL") or DEFAULTS["DATABASE_URL"]
    os.environ["ONETRIP_AUDIT_CHECKPOINT"] = str(Path(tempfile.mkdtemp()) / "audit-checkpoint.json")
    events = generated_history(max(60, args.appends // 8 + 20), seed=5)
    sample = ledger.canonical_json(events[0].to_wire())
    with throwaway_database(base_url) as database_url:
        settings = Settings(database_url=database_url)
        ensure_schema(settings.database, "audit")
        app = AuditHall(env=application_env("audit", settings))
        try:
            log("(a) raw INSERT ...")
            raw_first = raw_inserts(database_url, args.appends, sample)
            log("(b) consume, one caller ...")
            half = args.appends // 2
            appends_1 = consume_rate(app, events[:half], 1)
            log("(b4) consume, four callers ...")
            appends_4 = consume_rate(app, events[half : args.appends], 4)
            log(f"bulk ledger up to {args.entries:,} entries ...")
            bulk_ledger(database_url, events, args.entries - app.ledger.entries() - 20)
            appends_tail = consume_rate(app, events[args.appends : args.appends + 20], 1)
            log("(c) verify ...")
            started = time.perf_counter()
            verified = app.ledger.verify()
            verify_seconds = time.perf_counter() - started
            assert verified["ok"], verified
            case_id = events[0].data["case_id"]
            log("(d) replay ...")
            replay_ms = []
            for _ in range(20):
                started = time.perf_counter()
                history = app.ledger.case_history(case_id)
                replay_ms.append((time.perf_counter() - started) * 1000)
            log("(a') raw INSERT again ...")
            raw_last = raw_inserts(database_url, args.appends, sample)
        finally:
            app.close()
    raw = (raw_first + raw_last) / 2
    verify_rate = verified["entries"] / verify_seconds
    print(
        f"load average: {os.getloadavg()[0]:.1f} (1 min) at the end; ledger entries: {verified['entries']:,}"
    )
    print(f"{'row':<48} {'per second':>12} {'÷ raw INSERT':>13}")
    for label, rate in [
        ("(a)  raw INSERT, one row per commit", raw_first),
        ("(b)  ledger appends while consuming, 1 caller", appends_1),
        ("(b4) ledger appends while consuming, 4 callers", appends_4),
        (f"(c)  verify over {verified['entries']:,} entries", verify_rate),
        ("(a') raw INSERT again", raw_last),
    ]:
        print(f"{label:<48} {rate:>12,.0f} {rate / raw:>13.2f}")
    print(
        f"(c)  verify took {verify_seconds:.2f} s; (d) replay of one case ({len(history['events'])} events"
        f" among {verified['entries']:,}): median {statistics.median(replay_ms):.1f} ms,"
        f" max {max(replay_ms):.1f} ms; tail appends {appends_tail:,.0f}/s"
    )


if __name__ == "__main__":
    main()
