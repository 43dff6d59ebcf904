from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
import pytest

from services.gateway.tokens import InvalidTokenError, TokenIssuer

SECRET = "a-secret-long-enough-for-hs256-signing"
issuer = TokenIssuer(SECRET, timedelta(hours=8))


def test_a_token_names_the_user_it_was_issued_to() -> None:
    # Given a token issued to 国资处's editor
    token = issuer.issue("gzc")
    # Then reading it back gives that username
    assert issuer.username_in(token) == "gzc"


def test_a_token_issued_nine_hours_ago_has_expired() -> None:
    # Given a token with an 8-hour lifetime issued 9 hours ago
    token = issuer.issue("gzc", now=datetime.now(UTC) - timedelta(hours=9))
    # Then it is refused as expired
    with pytest.raises(InvalidTokenError, match="过期"):
        issuer.username_in(token)


def test_a_token_still_valid_seven_hours_after_issue() -> None:
    token = issuer.issue("office", now=datetime.now(UTC) - timedelta(hours=7))
    assert issuer.username_in(token) == "office"


@pytest.mark.parametrize(
    "token",
    [
        TokenIssuer("another-secret-of-sufficient-length!!", timedelta(hours=8)).issue("admin"),
        jwt.encode({"sub": "admin", "iss": "onetrip"}, SECRET, algorithm="HS256"),  # no expiry
        jwt.encode(
            {
                "sub": "admin",
                "iss": "elsewhere",
                "iat": datetime.now(UTC),
                "exp": datetime.now(UTC) + timedelta(hours=1),
            },
            SECRET,
            algorithm="HS256",
        ),
        jwt.encode(
            {
                "sub": "admin",
                "iss": "onetrip",
                "iat": datetime.now(UTC),
                "exp": datetime.now(UTC) + timedelta(hours=1),
            },
            None,
            algorithm="none",
        ),
        "not-a-token",
        "",
    ],
    ids=["other-key", "no-expiry", "other-issuer", "alg-none", "garbage", "empty"],
)
def test_tokens_the_gateway_did_not_sign_are_refused(token: str) -> None:
    with pytest.raises(InvalidTokenError):
        issuer.username_in(token)
