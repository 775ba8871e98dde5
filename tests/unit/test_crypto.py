"""Secrets at rest."""

from __future__ import annotations

import pytest

from callwright.security.crypto import SecretBox, SecretDecryptionError


def test_secrets_round_trip_and_a_wrong_key_fails_loudly() -> None:
    stored = SecretBox("key-one-" + "x" * 40).encrypt("sk-live-123")
    assert stored.startswith("enc:v1:")
    assert "sk-live-123" not in stored
    assert SecretBox("key-one-" + "x" * 40).decrypt(stored) == "sk-live-123"
    with pytest.raises(SecretDecryptionError, match="CALLWRIGHT_SECRET_KEY"):
        SecretBox("key-two-" + "x" * 40).decrypt(stored)
