"""Encryption of secrets at rest (Fernet: AES-128-CBC + HMAC-SHA256).

The Fernet key is derived from the configured secret key with HKDF, so the secret key
may be any long random string. Stored values are tagged ``enc:v1:`` so that a value
can never be mistaken for plaintext, nor plaintext for ciphertext.
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from callwright.errors import InternalError

__all__ = ["SecretBox", "SecretDecryptionError"]

_TAG = "enc:v1:"


class SecretDecryptionError(InternalError):
    """A stored secret cannot be decrypted: the secret key changed or the data is corrupt."""


class SecretBox:
    """Encrypts and decrypts short secrets with a key derived from ``secret_key``."""

    def __init__(self, secret_key: str) -> None:
        derived = HKDF(
            algorithm=hashes.SHA256(),
            length=32,
            salt=b"callwright-secrets-at-rest",
            info=b"fernet-v1",
        ).derive(secret_key.encode())
        self._fernet = Fernet(base64.urlsafe_b64encode(derived))

    @staticmethod
    def is_encrypted(value: str) -> bool:
        return value.startswith(_TAG)

    def encrypt(self, plaintext: str) -> str:
        return _TAG + self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, stored: str) -> str:
        if not stored.startswith(_TAG):
            raise SecretDecryptionError("value is not an encrypted secret")
        try:
            return self._fernet.decrypt(stored[len(_TAG) :].encode()).decode()
        except InvalidToken as exc:
            raise SecretDecryptionError(
                "a stored secret cannot be decrypted: was CALLWRIGHT_SECRET_KEY changed?"
            ) from exc
