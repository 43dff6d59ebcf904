"""Encryption at rest of stored events: eventsourcing's AES-GCM cipher, keyed by
``ONETRIP_CIPHER_KEY``. An application that holds personal data (phone numbers,
e-mail addresses, notification texts) merges ``cipher_env()`` into its environment."""
from __future__ import annotations

import base64
import hashlib
import os

from eventsourcing.cipher import AESCipher

DEVELOPMENT_CIPHER_KEY = "onetrip-local-development-cipher-key-change-me"
AES_TOPIC = "eventsourcing.cipher:AESCipher"
UPGRADING_TOPIC = "shared.cipher:UpgradingAESCipher"


def cipher_secret() -> str:
    return os.environ.get("ONETRIP_CIPHER_KEY") or DEVELOPMENT_CIPHER_KEY


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
    ciphertext or fails to verify (a chance of 2**-128 otherwise). One that fails and is
    a JSON object is such an old plain state and is read as it is; anything else is still
    refused. Old events stay as they were written (events are never rewritten); the data
    they hold is in the clear until it is erased with its store.
    """

    def decrypt(self, ciphertext: bytes) -> bytes:
        try:
            return super().decrypt(ciphertext)
        except ValueError:
            if ciphertext[:1] == b"{":
                return ciphertext
            raise
