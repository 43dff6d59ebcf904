"""``Idempotency-Key``: a command a client may retry (after a timeout, a dropped connection)
takes effect once, and every retry gets the first answer.

The keys live in PostgreSQL (``gateway.idempotency_keys``), so every gateway instance and a
restarted one see them. The first request with a key *claims* it, atomically, with a lease;
it runs the command and stores its answer (status and body) for ``ONETRIP_IDEMPOTENCY_HOURS``.
A request with the same key and the same body then gets that answer again
(``Idempotent-Replayed: true``); with another body, 422. While the first one still runs, a
retry is answered 409 with ``Retry-After`` instead of waiting. A failure the client may
retry (5xx) stores nothing, and neither does a gateway that dies mid-way: once its lease has
run out the next retry runs the command again. That second run is safe because the command
carries a ``request_id`` to the approval service, which makes the effect itself once-only
(a keyed case's id follows from the request; a keyed resubmission or decision leaves a
receipt) and answers the case as it stands.
"""
from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from psycopg_pool import ConnectionPool
from werkzeug.wrappers import Request, Response

from services.gateway.http import EXPECTED, UnprocessableError, response_for
from services.gateway.tables import create_tables, gateway_pool
from shared.config import env, fault
from shared.dependencies import Provided
from shared.errors import ConflictError

KEY_HEADER = "Idempotency-Key"
KEY_PATTERN = r"^[\x21-\x7e]{1,255}$"
REPLAYED_HEADER = "Idempotent-Replayed"
TABLE = "gateway.idempotency_keys"
RETRY_AFTER_SECONDS = 1

CREATE = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    username text NOT NULL, key text NOT NULL, request_id text NOT NULL, holder uuid NOT NULL,
    leased_until timestamptz, status integer, content_type text, body bytea,
    created_at timestamptz NOT NULL, expires_at timestamptz NOT NULL,
    PRIMARY KEY (username, key))
"""
CREATE_INDEX = f"CREATE INDEX IF NOT EXISTS idempotency_keys_expiry ON {TABLE} (expires_at)"
# A key is taken when it is new, expired, or held by a lease that ran out on this very request.
CLAIM = f"""
INSERT INTO {TABLE} AS old (username, key, request_id, holder, leased_until, created_at, expires_at)
VALUES (%(username)s, %(key)s, %(request_id)s, %(holder)s,
        now() + make_interval(secs => %(lease)s), now(), now() + make_interval(hours => %(hours)s))
ON CONFLICT (username, key) DO UPDATE SET
    request_id = EXCLUDED.request_id, holder = EXCLUDED.holder, leased_until = EXCLUDED.leased_until,
    status = NULL, content_type = NULL, body = NULL,
    created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at
WHERE old.expires_at <= now()
   OR (old.status IS NULL AND old.leased_until <= now() AND old.request_id = EXCLUDED.request_id)
RETURNING holder
"""
FOUND = f"SELECT request_id, status, content_type, body FROM {TABLE} WHERE username = %s AND key = %s"
FINISH = f"""
UPDATE {TABLE} SET status = %s, content_type = %s, body = %s, leased_until = NULL
WHERE username = %s AND key = %s AND holder = %s
"""
RELEASE = f"DELETE FROM {TABLE} WHERE username = %s AND key = %s AND holder = %s"
PURGE = f"""
DELETE FROM {TABLE} WHERE ctid = ANY(ARRAY(
    SELECT ctid FROM {TABLE} WHERE expires_at < now() LIMIT 100))
"""


@dataclass(frozen=True)
class Answer:
    status: int
    content_type: str
    body: bytes

    def response(self) -> Response:
        return Response(self.body, status=self.status, content_type=self.content_type,
                        headers={REPLAYED_HEADER: "true"})


@dataclass(frozen=True)
class Claim:
    username: str
    key: str
    request_id: str
    holder: uuid.UUID


def request_id_for(username: str, key: str, request: Request, command: Any) -> str:
    """Who sends which command under which key: equal for a retry, different for anything else."""
    sent = {"user": username, "key": key, "method": request.method, "path": request.path,
            "body": command}
    return hashlib.sha256(json.dumps(sent, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def idempotency_key(request: Request) -> str | None:
    key = request.headers.get(KEY_HEADER)
    if key is not None and not re.fullmatch(KEY_PATTERN, key):
        raise UnprocessableError(f"{KEY_HEADER} 须为 1 到 255 个可见 ASCII 字符(不含空格)")
    return key


class IdempotentCommands:
    def __init__(self, pool: ConnectionPool[Any], lease_seconds: float, keep_hours: int) -> None:
        self.pool = pool
        self.lease_seconds = lease_seconds
        self.keep_hours = keep_hours

    def create_table(self) -> None:
        with self.pool.connection() as conn:
            conn.execute(CREATE)
            conn.execute(CREATE_INDEX)

    def answer(
        self, request: Request, username: str, command: Any, run: Callable[[str | None], Response]
    ) -> Response:
        """``run(request_id)``'s response, once per key; ``run(None)`` without a key."""
        key = idempotency_key(request)
        if key is None:
            return run(None)
        claim = Claim(username, key, request_id_for(username, key, request, command), uuid.uuid4())
        earlier = self._claim(claim)
        if earlier is not None:
            return earlier.response()
        return self._run(claim, run)

    def _run(self, claim: Claim, run: Callable[[str | None], Response]) -> Response:
        try:
            response = run(claim.request_id)
        except EXPECTED as exc:
            response = response_for(exc)
        except BaseException:
            self._release(claim)
            raise
        if response.status_code >= 500:
            self._release(claim)  # the client may retry; nothing to repeat
        else:
            fault("gateway_before_answer_stored")
            self._finish(claim, response)
        return response

    def _claim(self, claim: Claim) -> Answer | None:
        """None when this request holds the key now; else the answer stored for it."""
        for _ in range(3):  # a key released between our two statements is tried again
            with self.pool.connection() as conn:
                taken = conn.execute(CLAIM, {
                    "username": claim.username, "key": claim.key, "request_id": claim.request_id,
                    "holder": claim.holder, "lease": self.lease_seconds, "hours": self.keep_hours,
                }).fetchone()
                if taken is not None:
                    return None
                found = conn.execute(FOUND, (claim.username, claim.key)).fetchone()
            if found is not None:
                return _earlier(found, claim.request_id)
        raise ConflictError(f"同一个 {KEY_HEADER} 的请求仍在处理中,请稍后重试",
                            retry_after=RETRY_AFTER_SECONDS)

    def _finish(self, claim: Claim, response: Response) -> None:
        with self.pool.connection() as conn:
            conn.execute(FINISH, (response.status_code, response.content_type, response.get_data(),
                                  claim.username, claim.key, claim.holder))
            conn.execute(PURGE)

    def _release(self, claim: Claim) -> None:
        with self.pool.connection() as conn:
            conn.execute(RELEASE, (claim.username, claim.key, claim.holder))


def _earlier(found: tuple[Any, ...], request_id: str) -> Answer:
    stored_request, status, content_type, body = found
    if stored_request != request_id:
        raise UnprocessableError(
            f"这个 {KEY_HEADER} 已用于另一个请求(内容不同);新的请求请换一个新的键"
        )
    if status is None:
        raise ConflictError(f"同一个 {KEY_HEADER} 的请求仍在处理中,请稍后重试",
                            retry_after=RETRY_AFTER_SECONDS)
    return Answer(status, content_type, bytes(body))


def keyed(request_id: str | None) -> dict[str, str]:
    """The RPC keyword for a keyed command; nothing for one sent without a key."""
    return {} if request_id is None else {"request_id": request_id}


class Idempotency(Provided[IdempotentCommands]):
    def build(self) -> IdempotentCommands:
        # No connection held while no keyed command comes (min_size 0): PostgreSQL's
        # connections are shared by every process of the hall.
        pool = gateway_pool(min_size=0, max_size=4)
        # A command's answer comes within the RPC timeout; a resubmission asks twice.
        lease = 3 * float(env("ONETRIP_RPC_TIMEOUT"))
        commands = IdempotentCommands(pool, lease, int(env("ONETRIP_IDEMPOTENCY_HOURS")))
        create_tables(commands.create_table)
        return commands

    def close(self, commands: IdempotentCommands) -> None:
        commands.pool.close()
