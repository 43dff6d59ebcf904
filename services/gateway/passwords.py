"""Password hashes (argon2id): only the hash is ever stored."""

from __future__ import annotations

from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when the password matches; an account without a hash never matches.

    Without a hash the work is done anyway against a dummy, so the answer's timing
    does not tell whether the username exists.
    """
    try:
        matches = _hasher.verify(password_hash or _dummy_hash(), password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
    return matches and password_hash is not None


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher.hash("no account has this password")
