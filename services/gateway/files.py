"""Uploaded files: content-addressed blobs behind a storage interface, metadata in PostgreSQL.

The type is read from the content's magic bytes, never from the name or the header;
the size limit is checked before the body is read whole. A file is readable by its
uploader and by staff of a department that decides a case citing it.
"""
from __future__ import annotations

import hashlib
import os
import re
import tempfile
import unicodedata
import uuid
import zipfile
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Protocol

import filetype
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from services.gateway.doors import upload_limit_bytes
from services.gateway.tables import create_tables, gateway_pool
from shared.config import env
from shared.dependencies import Provided

CHUNK = 64 * 1024
PDF, PNG, JPEG, TEXT = "application/pdf", "image/png", "image/jpeg", "text/plain"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ALLOWED = {PDF, PNG, JPEG, DOCX, XLSX, TEXT}
EXTENSIONS = {
    PDF: {".pdf"}, PNG: {".png"}, JPEG: {".jpg", ".jpeg"}, DOCX: {".docx"}, XLSX: {".xlsx"},
    TEXT: {".txt", ".text", ".csv", ".md", ".log", ""},
}
MARKUP = re.compile(rb"^\s*(<!doctype|<html|<script|<svg|<\?xml|<body|<head|<iframe)", re.IGNORECASE)


class FileTooLargeError(Exception):
    pass


class UnsupportedFileTypeError(Exception):
    pass


@dataclass(frozen=True)
class StoredFile:
    file_id: str
    name: str
    size: int
    sha256: str
    content_type: str
    owner: str
    created_at: str

    def public(self) -> dict[str, Any]:
        view = asdict(self)
        view.pop("owner")
        return view


def safe_name(raw: str | None) -> str:
    """The base name only, without control characters: a path in the name is stripped."""
    name = (raw or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in unicodedata.normalize("NFC", name) if unicodedata.category(ch)[0] != "C")
    name = name.strip().lstrip(".")
    return name[:200] or "未命名文件"


def sniff(head: bytes, blob: Path) -> str | None:
    if head.startswith(b"PK\x03\x04"):
        return _office_type(blob)
    guessed = filetype.guess_mime(head)
    if guessed in (PDF, PNG, JPEG):
        return guessed
    if guessed is None and _is_plain_text(head):
        return TEXT
    return None


def _office_type(blob: Path) -> str | None:
    try:
        with zipfile.ZipFile(blob) as archive:
            names = set(archive.namelist())
    except zipfile.BadZipFile:
        return None
    if "[Content_Types].xml" not in names:
        return None
    if "word/document.xml" in names:
        return DOCX
    if "xl/workbook.xml" in names:
        return XLSX
    return None


def _is_plain_text(head: bytes) -> bool:
    if b"\x00" in head or MARKUP.match(head):
        return False
    for encoding in ("utf-8", "gb18030"):
        try:
            head.decode(encoding)
            return True
        except UnicodeDecodeError as exc:
            if encoding == "utf-8" and exc.start >= len(head) - 3:
                return True  # a multi-byte character cut at the end of the sniffed head
    return False


class BlobStorage(Protocol):
    """Where the bytes live. ``LocalDiskStorage`` by default; an S3-compatible store
    (MinIO, Ceph RGW) implements the same three methods with boto3 (see README)."""

    def put(self, sha256: str, staged: Path) -> None: ...

    def open(self, sha256: str) -> IO[bytes]: ...

    def staging_dir(self) -> Path: ...


class LocalDiskStorage:
    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "staging").mkdir(parents=True, exist_ok=True)

    def _path(self, sha256: str) -> Path:
        return self.root / "blobs" / sha256[:2] / sha256[2:4] / sha256

    def staging_dir(self) -> Path:
        return self.root / "staging"

    def put(self, sha256: str, staged: Path) -> None:
        target = self._path(sha256)
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            staged.unlink()
        else:
            os.replace(staged, target)

    def open(self, sha256: str) -> IO[bytes]:
        return open(self._path(sha256), "rb")


class FileStore:
    def __init__(self, storage: BlobStorage, pool: ConnectionPool[Any]) -> None:
        self.storage = storage
        self.pool = pool

    def create_table(self) -> None:
        with self.pool.connection() as conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS gateway.files (file_id text PRIMARY KEY, name text NOT NULL, "
                "size bigint NOT NULL, sha256 text NOT NULL, content_type text NOT NULL, "
                "owner text NOT NULL, created_at timestamptz NOT NULL)"
            )
            conn.execute("CREATE INDEX IF NOT EXISTS files_by_owner ON gateway.files (owner)")

    def save(self, stream: IO[bytes], name: str | None, owner: str) -> StoredFile:
        staged, digest, size, head = self._stage(stream)
        try:
            content_type = sniff(head, staged)
            if content_type not in ALLOWED:
                raise UnsupportedFileTypeError("只接受 PDF、PNG、JPEG、DOCX、XLSX 或纯文本文件(按文件内容判断)")
            clean = safe_name(name)
            if Path(clean).suffix.lower() not in EXTENSIONS[content_type]:
                raise UnsupportedFileTypeError(f"文件名 {clean} 与文件内容({content_type})不符")
            self.storage.put(digest, staged)
        finally:
            staged.unlink(missing_ok=True)
        record = StoredFile(str(uuid.uuid4()), clean, size, digest, content_type, owner,
                            datetime.now(UTC).isoformat())
        with self.pool.connection() as conn:
            conn.execute(
                "INSERT INTO gateway.files VALUES (%(file_id)s, %(name)s, %(size)s, %(sha256)s, "
                "%(content_type)s, %(owner)s, %(created_at)s)",
                asdict(record),
            )
        return record

    def _stage(self, stream: IO[bytes]) -> tuple[Path, str, int, bytes]:
        limit = upload_limit_bytes()
        digest, size, head = hashlib.sha256(), 0, b""
        # closed by the `with` below; removed there on failure, by the caller after use
        handle = tempfile.NamedTemporaryFile(dir=self.storage.staging_dir(), delete=False)  # noqa: SIM115
        staged = Path(handle.name)
        try:
            with handle:
                while chunk := stream.read(CHUNK):
                    size += len(chunk)
                    if size > limit:
                        raise FileTooLargeError(f"文件超过 {limit // (1024 * 1024)} MB")
                    if len(head) < 8192:
                        head += chunk[: 8192 - len(head)]
                    digest.update(chunk)
                    handle.write(chunk)
        except BaseException:
            # too large, or the client went away mid-upload: nothing stays in staging
            staged.unlink(missing_ok=True)
            raise
        return staged, digest.hexdigest(), size, head

    def get(self, file_id: str) -> StoredFile | None:
        # The row factory belongs to this cursor: the pooled connection goes back as it came.
        with self.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cursor:
            row = cursor.execute(
                "SELECT file_id, name, size, sha256, content_type, owner, created_at "
                "FROM gateway.files WHERE file_id = %s", (file_id,)
            ).fetchone()
        if row is None:
            return None
        row["created_at"] = row["created_at"].isoformat()
        return StoredFile(**row)

    def owned_by(self, owner: str, file_ids: list[str]) -> list[str]:
        if not file_ids:
            return []
        with self.pool.connection() as conn:
            rows = conn.execute(
                "SELECT file_id FROM gateway.files WHERE owner = %s AND file_id = ANY(%s)",
                (owner, file_ids),
            ).fetchall()
        return [row[0] for row in rows]

    def read(self, stored: StoredFile) -> bytes:
        with self.storage.open(stored.sha256) as handle:
            return handle.read()


class Files(Provided[FileStore]):
    def build(self) -> FileStore:
        pool = gateway_pool(min_size=1, max_size=int(env("ONETRIP_FILES_POOL_SIZE")))
        store = FileStore(LocalDiskStorage(Path(env("ONETRIP_FILES_DIR"))), pool)
        create_tables(store.create_table)
        return store

    def close(self, store: FileStore) -> None:
        store.pool.close()


__all__ = [
    "FileStore",
    "FileTooLargeError",
    "Files",
    "StoredFile",
    "UnsupportedFileTypeError",
    "upload_limit_bytes",
]
