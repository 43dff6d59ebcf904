"""The cipher of stores that held plain events before they were encrypted."""
from __future__ import annotations

import pytest
from eventsourcing.utils import Environment

from shared.cipher import UpgradingAESCipher, cipher_env


def cipher(secret: str = "test-cipher-key") -> UpgradingAESCipher:
    return UpgradingAESCipher(Environment(env=cipher_env(secret, reads_plain=True)))


def test_it_writes_ciphertext_and_reads_its_own_and_old_plain_states() -> None:
    state = b'{"phone": "13800000001", "email": "li@example.edu.cn"}'
    written = cipher().encrypt(state)
    assert b"13800000001" not in written
    assert cipher().decrypt(written) == state
    assert cipher().decrypt(state) == state  # a state stored before encryption was turned on


def test_it_refuses_what_is_neither() -> None:
    written = bytearray(cipher().encrypt(b'{"phone": "13800000001"}'))
    written[-1] ^= 1
    with pytest.raises(ValueError):
        cipher().decrypt(bytes(written))  # tampered
    with pytest.raises(ValueError):
        cipher("another-key").decrypt(cipher().encrypt(b'{"a": 1}'))  # another key's
