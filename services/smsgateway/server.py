"""A small local SMS gateway that speaks the provider format of ``services/notify/SMS.md``.

It records what it accepts in SQLite, answers a repeated idempotency key with the first
answer (as a real provider does), and can be told to fail: ``POST /admin/fail``.
"""
from __future__ import annotations

import json
import logging
import re
import sqlite3
import threading
import time
import uuid
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from shared.logs import mask

log = logging.getLogger("smsgateway")

PHONE = re.compile(r"^1[3-9]\d{9}$")
MAX_TEXT = 500
SEGMENT_SINGLE, SEGMENT_PART = 70, 67


def segments(text: str) -> int:
    return 1 if len(text) <= SEGMENT_SINGLE else -(-len(text) // SEGMENT_PART)


class Problem(Exception):
    def __init__(self, status: HTTPStatus, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class Ledger:
    """What the gateway accepted, and how it has been told to behave."""

    def __init__(self, path: str) -> None:
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS messages (idempotency_key TEXT PRIMARY KEY, "
            "message_id TEXT NOT NULL, phone TEXT NOT NULL, text TEXT NOT NULL, "
            "segments INTEGER NOT NULL, received_at REAL NOT NULL)"
        )
        self.lock = threading.Lock()
        self.fail_remaining = 0
        self.fail_forever = False
        self.fail_phone: str | None = None
        self.requests = 0
        self.failures = 0

    def accept(self, phone: str, text: str, key: str) -> tuple[dict[str, Any], bool]:
        with self.lock:
            self.requests += 1
            self._maybe_fail(phone)
            found = self.db.execute(
                "SELECT message_id, segments FROM messages WHERE idempotency_key = ?", (key,)
            ).fetchone()
            if found is not None:
                return {"message_id": found[0], "segments": found[1]}, True
            message_id = uuid.uuid4().hex
            self.db.execute(
                "INSERT INTO messages VALUES (?, ?, ?, ?, ?, ?)",
                (key, message_id, phone, text, segments(text), time.time()),
            )
            return {"message_id": message_id, "segments": segments(text)}, False

    def _maybe_fail(self, phone: str) -> None:
        if self.fail_phone not in (None, phone):
            return
        if self.fail_forever or self.fail_remaining > 0:
            self.fail_remaining = max(0, self.fail_remaining - 1)
            self.failures += 1
            raise Problem(HTTPStatus.SERVICE_UNAVAILABLE, "UPSTREAM_UNAVAILABLE", "运营商通道暂不可用")

    def fail(self, times: int, forever: bool, phone: str | None = None) -> dict[str, Any]:
        with self.lock:
            self.fail_remaining, self.fail_forever, self.fail_phone = times, forever, phone
            return self.behaviour()

    def behaviour(self) -> dict[str, Any]:
        return {
            "fail_remaining": self.fail_remaining,
            "fail_forever": self.fail_forever,
            "fail_phone": mask(self.fail_phone or ""),
            "requests": self.requests,
            "failures": self.failures,
        }

    def messages(self) -> list[dict[str, Any]]:
        with self.lock:
            rows = self.db.execute(
                "SELECT idempotency_key, message_id, phone, text, segments, received_at "
                "FROM messages ORDER BY received_at, rowid"
            ).fetchall()
        keys = ("idempotency_key", "message_id", "phone", "text", "segments", "received_at")
        return [dict(zip(keys, row)) for row in rows]


def validated(body: Any) -> tuple[str, str, str]:
    if not isinstance(body, dict):
        raise Problem(HTTPStatus.BAD_REQUEST, "INVALID_REQUEST", "请求体须为 JSON 对象")
    phone, text, key = body.get("phone"), body.get("text"), body.get("idempotency_key")
    if not isinstance(phone, str) or not PHONE.match(phone):
        raise Problem(HTTPStatus.BAD_REQUEST, "INVALID_PHONE", "手机号码格式不正确")
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_TEXT:
        raise Problem(HTTPStatus.BAD_REQUEST, "INVALID_TEXT", f"短信内容须为 1–{MAX_TEXT} 个字符")
    if not isinstance(key, str) or not 1 <= len(key) <= 128:
        raise Problem(HTTPStatus.BAD_REQUEST, "INVALID_IDEMPOTENCY_KEY", "缺少 idempotency_key")
    return phone, text, key


class Handler(BaseHTTPRequestHandler):
    ledger: Ledger
    server_version = "onetrip-smsgateway/1"

    def do_POST(self) -> None:
        routes = {"/v1/sms": self._send, "/admin/fail": self._fail}
        self._dispatch(routes)

    def do_GET(self) -> None:
        routes = {"/messages": self._messages, "/admin/behaviour": self._behaviour, "/healthz": self._health}
        self._dispatch(routes)

    def _dispatch(self, routes: dict[str, Any]) -> None:
        route = routes.get(self.path.split("?", 1)[0])
        try:
            if route is None:
                raise Problem(HTTPStatus.NOT_FOUND, "NOT_FOUND", "no such endpoint")
            status, body = route()
        except Problem as problem:
            status, body = problem.status, {"code": problem.code, "message": problem.message}
        self._reply(status, body)

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        try:
            return json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            raise Problem(HTTPStatus.BAD_REQUEST, "INVALID_REQUEST", "请求体不是 JSON") from None

    def _send(self) -> tuple[HTTPStatus, dict[str, Any]]:
        phone, text, key = validated(self._body())
        accepted, duplicate = self.ledger.accept(phone, text, key)
        log.info("accepted %s for %s%s", key, mask(phone), " (duplicate)" if duplicate else "")
        return HTTPStatus.OK, {"code": "OK", "message": "已受理", "duplicate": duplicate, **accepted}

    def _fail(self) -> tuple[HTTPStatus, dict[str, Any]]:
        body = self._body()
        times, forever = int(body.get("times", 0)), bool(body.get("forever", False))
        phone = body.get("phone") if isinstance(body.get("phone"), str) else None
        return HTTPStatus.OK, self.ledger.fail(times, forever, phone)

    def _messages(self) -> tuple[HTTPStatus, Any]:
        return HTTPStatus.OK, {"messages": self.ledger.messages()}

    def _behaviour(self) -> tuple[HTTPStatus, Any]:
        return HTTPStatus.OK, self.ledger.behaviour()

    def _health(self) -> tuple[HTTPStatus, Any]:
        return HTTPStatus.OK, {"status": "ok"}

    def _reply(self, status: HTTPStatus, body: Any) -> None:
        raw = json.dumps(body, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug(format, *args)


def serve(host: str, port: int, ledger: Ledger) -> ThreadingHTTPServer:
    handler = type("BoundHandler", (Handler,), {"ledger": ledger})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server
