"""Back up onetrip, and restore a backup into a new database (docs/operations.md).

    scripts/backup DIR                 # DATABASE_URL, ONETRIP_FILES_DIR, ONETRIP_AUDIT_CHECKPOINT
    scripts/restore DIR                # into DATABASE_URL (a new database), the same variables
                   [--replay-from-start]

A backup is a directory:
  audit-checkpoint.json  the signed ledger head, copied FIRST: the dump taken after it holds at
                         least that head, so the restored ledger verifies against it;
  onetrip.dump           ``pg_dump --format=custom`` of the whole database: every schema
                         (catalogue, approval, notify, audit, gateway...) in one consistent
                         snapshot, taken while the services run;
  files.tar              the uploads, archived AFTER the dump: every file the dump records is in
                         it (a file is stored before its record is committed);
  backup.json            what was taken, from where, when, and each part's sha256.

A restore checks the sha256s, creates the database (it must not exist), restores the dump,
unpacks the uploads, carries the checkpoint over to the new database's ledger name (its
signature is checked with ONETRIP_AUDIT_KEY first; seq and hash are kept as they were), and
rewinds each outbox relay to where the slowest of its subscribers had got, so that what was on
the old broker and not yet consumed is published again; consumers apply an event they already
had exactly once (their tracking rows came with the dump). Start the services on a fresh broker
vhost (or with the old one's queues purged): messages on the old bus belong to the old database.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from services.audit.checkpoint import CheckpointFile
from shared.config import Database, Settings, env
from shared.topology import EVENTS, SUBSCRIPTIONS

DUMP, FILES, CHECKPOINT, MANIFEST = "onetrip.dump", "files.tar", "audit-checkpoint.json", "backup.json"
AUDIT_SCHEMA = "audit"


class BackupError(RuntimeError):
    pass


# -- settings ------------------------------------------------------------------------------


@cache
def settings() -> Settings:
    """The hall's settings, read once (this script is its own composition root)."""
    return Settings()


def database() -> Database:
    return settings().database


def files_dir() -> Path:
    return Path(env("ONETRIP_FILES_DIR"))


def checkpoint_file(ledger: str, path: Path | None = None) -> CheckpointFile:
    """The signed ledger heads the audit service keeps (``ONETRIP_AUDIT_CHECKPOINT``), or the
    copy of them at ``path``; both signed with ``ONETRIP_AUDIT_KEY``."""
    audit = settings().audit
    return CheckpointFile(ledger, path or Path(audit.checkpoint_path), audit.key.encode())


def ledger_name(db: Database) -> str:
    return f"{db.dbname}/{AUDIT_SCHEMA}"


def libpq_env(db: Database) -> dict[str, str]:
    env = {**os.environ, "PGHOST": db.host, "PGPORT": str(db.port), "PGUSER": db.user}
    if db.password:
        env["PGPASSWORD"] = db.password
    return env


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# -- backup --------------------------------------------------------------------------------


def backup(target: Path) -> dict[str, Any]:
    db = database()
    target.mkdir(parents=True, exist_ok=False)
    checkpoint = copy_checkpoint(target / CHECKPOINT)
    schemas = schemas_of(db)
    subprocess.run(["pg_dump", "--format=custom", "--no-owner", "--file", str(target / DUMP),
                    db.dbname], env=libpq_env(db), check=True)
    files = archive_files(target / FILES)
    manifest = {
        "taken_at": datetime.now(UTC).isoformat(),
        "database": db.dbname,
        "ledger": ledger_name(db),
        "schemas": schemas,
        "files": files,
        "checkpoint": checkpoint,
        "sha256": {name: sha256(target / name) for name in (DUMP, FILES, CHECKPOINT)},
    }
    (target / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2))
    return manifest


def copy_checkpoint(destination: Path) -> dict[str, Any] | None:
    source = checkpoint_file(ledger_name(database())).path
    if not source.exists():
        destination.write_text("{}")
        return None
    shutil.copyfile(source, destination)
    return dict(json.loads(destination.read_text() or "{}").get("ledgers", {}).get(
        ledger_name(database())) or {}) or None


def schemas_of(db: Database) -> list[str]:
    with psycopg.connect(db.conninfo()) as conn:
        rows = conn.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%'"
            " AND nspname <> 'information_schema' ORDER BY 1").fetchall()
    return [row[0] for row in rows]


def archive_files(destination: Path) -> int:
    source = files_dir()
    count = 0
    with tarfile.open(destination, "w") as archive:
        if source.exists():
            for path in sorted(source.rglob("*")):
                if path.is_file():
                    archive.add(path, arcname=str(path.relative_to(source)))
                    count += 1
    return count


# -- restore -------------------------------------------------------------------------------


def restore(source: Path, from_start: bool = False) -> dict[str, Any]:
    manifest = json.loads((source / MANIFEST).read_text())
    for name, expected in manifest["sha256"].items():
        if sha256(source / name) != expected:
            raise BackupError(f"{source / name} is not the file the backup took (sha256 differs)")
    db = database()
    create_database(db)
    subprocess.run(["pg_restore", "--no-owner", "--exit-on-error", "--dbname", db.dbname,
                    str(source / DUMP)], env=libpq_env(db), check=True)
    unpack_files(source / FILES)
    carry_checkpoint(source / CHECKPOINT, manifest["ledger"], ledger_name(db))
    rewound = rewind_relays(db, from_start)
    return {"database": db.dbname, "schemas": manifest["schemas"], "files": manifest["files"],
            "ledger": ledger_name(db), "relays": rewound}


def create_database(db: Database) -> None:
    with psycopg.connect(db.conninfo("postgres"), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (db.dbname,)).fetchone()
        if exists:
            raise BackupError(f"database {db.dbname} exists: restore only into a new database")
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db.dbname)))


def unpack_files(archive_path: Path) -> None:
    target = files_dir()
    target.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive_path) as archive:
        archive.extractall(target, filter="data")


def carry_checkpoint(backed_up: Path, old_ledger: str, new_ledger: str) -> None:
    """The backup's signed head, now the head of the restored ledger (signature checked)."""
    head = checkpoint_file(old_ledger, backed_up).read()
    if head is None:
        raise BackupError(f"the backup holds no checkpoint for {old_ledger}: the ledger cannot be "
                          "verified against it (onetrip-audit checkpoint, docs/operations.md)")
    checkpoint_file(new_ledger).replace(head.seq, head.hash)


def rewind_relays(db: Database, from_start: bool) -> dict[str, dict[str, int]]:
    """Each relay goes back to the lowest position that every subscriber taking all of its
    events had consumed; its manifests go back as far as the audit service had received them."""
    rewound: dict[str, dict[str, int]] = {}
    with psycopg.connect(db.conninfo()) as conn:
        for source in sorted({s.source for s in SUBSCRIPTIONS if s.event_type == "*"}):
            position = relay_position(conn, source)
            if position is None:
                continue
            consumed = [consumed_through(conn, s.consumer, source) for s in SUBSCRIPTIONS
                        if s.source == source and s.event_type == "*" and s.stream == EVENTS]
            back_to = 0 if from_start else min([position[0], *consumed])
            manifested = min(back_to, manifests_received(conn, source), position[1])
            set_relay_position(conn, source, back_to, manifested)
            rewound[source] = {"was": position[0], "now": back_to, "manifested": manifested}
    return rewound


def relay_position(conn: psycopg.Connection[Any], schema: str) -> tuple[int, int] | None:
    try:
        with conn.transaction():
            row = conn.execute(sql.SQL(
                "SELECT notification_id, COALESCE(manifested_through, notification_id) FROM {}.relay_position"
                " WHERE application = %s").format(sql.Identifier(schema)), (schema,)).fetchone()
    except psycopg.errors.UndefinedTable:
        return None
    return (int(row[0]), int(row[1])) if row else None


def consumed_through(conn: psycopg.Connection[Any], consumer: str, source: str) -> int:
    try:
        with conn.transaction():
            row = conn.execute(sql.SQL(
                "SELECT COALESCE(max(notification_id), 0) FROM {}.{} WHERE application_name = %s"
            ).format(sql.Identifier(consumer), sql.Identifier(f"{consumer}_tracking")),
                (source,)).fetchone()
    except psycopg.errors.UndefinedTable:
        return 0
    return int(row[0]) if row else 0


def manifests_received(conn: psycopg.Connection[Any], source: str) -> int:
    try:
        with conn.transaction():
            row = conn.execute(
                "SELECT COALESCE(min(high), 0) FROM (SELECT application, max(high) AS high"
                " FROM audit.manifest_coverage WHERE service = %s GROUP BY application) AS last",
                (source,)).fetchone()
    except psycopg.errors.UndefinedTable:
        return 0
    return int(row[0]) if row else 0


def set_relay_position(conn: psycopg.Connection[Any], schema: str, position: int,
                       manifested: int) -> None:
    conn.execute(sql.SQL(
        "UPDATE {}.relay_position SET notification_id = %s, manifested_through = %s, updated_at = now()"
        " WHERE application = %s").format(sql.Identifier(schema)), (position, manifested, schema))


# -- the command line ----------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(prog="scripts/backup", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("backup").add_argument("directory", type=Path)
    restoring = commands.add_parser("restore")
    restoring.add_argument("directory", type=Path)
    restoring.add_argument("--replay-from-start", action="store_true",
                           help="publish every event again (consumers apply each once)")
    args = parser.parse_args()
    try:
        if args.command == "backup":
            result = backup(args.directory)
        else:
            result = restore(args.directory, args.replay_from_start)
    except (BackupError, subprocess.CalledProcessError, OSError, psycopg.Error) as exc:
        print(f"{args.command} failed: {exc}", file=sys.stderr)
        sys.exit(1)
    print(json.dumps(result, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
