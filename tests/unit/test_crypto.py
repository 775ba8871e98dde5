"""Secrets at rest and the per-organization signing key."""

from __future__ import annotations

import pytest

from callwright.security.crypto import SecretBox, SecretDecryptionError, organization_signing_secret


def test_secrets_round_trip_and_a_wrong_key_fails_loudly() -> None:
    stored = SecretBox("key-one-" + "x" * 40).encrypt("sk-live-123")
    assert stored.startswith("enc:v1:")
    assert "sk-live-123" not in stored
    assert SecretBox("key-one-" + "x" * 40).decrypt(stored) == "sk-live-123"
    with pytest.raises(SecretDecryptionError, match="CALLWRIGHT_SECRET_KEY"):
        SecretBox("key-two-" + "x" * 40).decrypt(stored)


def test_each_organization_gets_its_own_stable_signing_secret() -> None:
    key = "server-key-" + "z" * 40
    first = organization_signing_secret(key, 1)
    assert first == organization_signing_secret(key, 1)
    assert first != organization_signing_secret(key, 2)
    assert first != organization_signing_secret("other-" + key, 1)
    assert len(first) == 64
