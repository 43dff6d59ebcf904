"""Signed, expiring bearer tokens (JWT, HS256)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

ISSUER = "onetrip"
ALGORITHM = "HS256"


class InvalidTokenError(Exception):
    pass


@dataclass(frozen=True)
class TokenIssuer:
    secret: str
    lifetime: timedelta

    def issue(self, username: str, now: datetime | None = None) -> str:
        issued_at = now or datetime.now(UTC)
        claims = {
            "sub": username,
            "iss": ISSUER,
            "iat": issued_at,
            "exp": issued_at + self.lifetime,
        }
        return jwt.encode(claims, self.secret, algorithm=ALGORITHM)

    def username_in(self, token: str) -> str:
        try:
            claims = jwt.decode(
                token,
                self.secret,
                algorithms=[ALGORITHM],
                issuer=ISSUER,
                options={"require": ["sub", "exp", "iat", "iss"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise InvalidTokenError("登录已过期,请重新登录") from exc
        except jwt.InvalidTokenError as exc:
            raise InvalidTokenError("令牌无效,请重新登录") from exc
        username = claims["sub"]
        if not isinstance(username, str) or not username:
            raise InvalidTokenError("令牌无效,请重新登录")
        return username
