from __future__ import annotations

from services.gateway.passwords import hash_password, verify_password


def test_the_right_password_matches_its_hash_and_a_wrong_one_does_not() -> None:
    # Given the hash of the demo password
    stored = hash_password("onetrip-demo")
    # Then the hash is argon2id, not the password, and only the password matches it
    assert stored.startswith("$argon2id$")
    assert "onetrip-demo" not in stored
    assert verify_password(stored, "onetrip-demo")
    assert not verify_password(stored, "onetrip-dem0")
    assert not verify_password(stored, "")


def test_the_same_password_hashes_differently_each_time() -> None:
    assert hash_password("onetrip-demo") != hash_password("onetrip-demo")


def test_an_account_without_a_hash_or_with_a_broken_one_never_matches() -> None:
    assert not verify_password(None, "onetrip-demo")
    assert not verify_password("not-a-hash", "onetrip-demo")
