"""Encryption at rest of stored events: eventsourcing's AES-GCM cipher, keyed by
``ONETRIP_CIPHER_KEY``. An application that holds personal data (phone numbers,
e-mail addresses, notification texts) merges ``cipher_env()`` into its environment."""
from __future__ import annotations

import base64
import hashlib
import json

from eventsourcing.cipher import AESCipher

from shared.config import env

AES_TOPIC = "eventsourcing.cipher:AESCipher"
UPGRADING_TOPIC = "shared.cipher:UpgradingAESCipher"


def cipher_secret() -> str:
    return env("ONETRIP_CIPHER_KEY")


def cipher_env(secret: str | None = None, *, reads_plain: bool = False) -> dict[str, str]:
    """The application settings that encrypt every stored event. ``reads_plain``: the
    store may hold events written before encryption was turned on (see below)."""
    # Any passphrase works: AES-256 wants exactly 32 bytes, so hash it to that size.
    digest = hashlib.sha256((secret or cipher_secret()).encode()).digest()
    key = base64.b64encode(digest).decode()
    return {"CIPHER_TOPIC": UPGRADING_TOPIC if reads_plain else AES_TOPIC, "CIPHER_KEY": key}


class UpgradingAESCipher(AESCipher):
    """Writes every event encrypted; reads its own ciphertext and, besides, the plain JSON
    states a store kept from before it was encrypted.

    AES-GCM authenticates what it decrypts, so a stored state either is this key's
    ciphertext or fails to verify (a chance of 2**-128 otherwise). One that fails and parses
    as a JSON object is such an old plain state and is read as it is; anything else (a
    tampered ciphertext, another key's) is still refused. The identity application also
    encrypts such old rows in place when a gateway starts (``encrypt_plain_events``).
    """

    def decrypt(self, ciphertext: bytes) -> bytes:
        try:
            return super().decrypt(ciphertext)
        except ValueError:
            if plain_state(ciphertext):
                return ciphertext
            raise


def plain_state(stored: bytes) -> bool:
    """Whether a stored state is an unencrypted event's JSON object."""
    if stored[:1] != b"{":
        return False
    try:
        return isinstance(json.loads(stored.decode("utf-8")), dict)
    except ValueError:  # not UTF-8, or not JSON
        return False
