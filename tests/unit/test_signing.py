"""The signature on everything callwright sends: HMAC-SHA256 over "<timestamp>.<body>",
checked against replay, tampering and rotation; and the per-organization signing key."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from callwright.security.signing import organization_signing_secret, sign, verify_signature

ORG_SECRET = "org-signing-secret"

BODY = b'{"message":{"type":"tool-calls"}}'


def test_signature_is_hmac_sha256_over_timestamp_dot_body() -> None:
    digest = hmac.new(ORG_SECRET.encode(), b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert sign(ORG_SECRET, 1_700_000_000, BODY) == f"v1={digest}"


def test_signature_round_trip() -> None:
    signature = sign(ORG_SECRET, 1_700_000_000, BODY)
    assert verify_signature(ORG_SECRET, "1700000000", BODY, signature, now=1_700_000_010)
    assert verify_signature(
        ORG_SECRET.encode(), 1_700_000_000, BODY.decode(), signature, now=1_700_000_000
    )


def test_tampered_body_fails_verification() -> None:
    signature = sign(ORG_SECRET, 1_700_000_000, BODY)
    tampered = BODY.replace(b"tool-calls", b"tool-callz")
    assert not verify_signature(ORG_SECRET, "1700000000", tampered, signature, now=1_700_000_000)


def test_signature_for_another_timestamp_fails() -> None:
    signature = sign(ORG_SECRET, 1_700_000_000, BODY)
    assert not verify_signature(ORG_SECRET, "1700000001", BODY, signature, now=1_700_000_000)


@pytest.mark.parametrize("now", [1_700_000_301, 1_699_999_699])
def test_stale_or_future_timestamp_fails(now: float) -> None:
    signature = sign(ORG_SECRET, 1_700_000_000, BODY)
    assert not verify_signature(ORG_SECRET, "1700000000", BODY, signature, now=now)
    assert verify_signature(ORG_SECRET, "1700000000", BODY, signature, now=now, tolerance_s=400)


@pytest.mark.parametrize("timestamp", ["", "abc", "1.7e9", "-1700000000", "99999999999999"])
def test_malformed_timestamp_fails(timestamp: str) -> None:
    signature = sign(ORG_SECRET, timestamp, BODY)
    assert not verify_signature(ORG_SECRET, timestamp, BODY, signature, now=1_700_000_000)


def test_any_of_several_signatures_may_match() -> None:
    good = sign(ORG_SECRET, 1_700_000_000, BODY)
    old = sign("retired-secret", 1_700_000_000, BODY)
    header = f"{old}, {good}"
    assert verify_signature(ORG_SECRET, "1700000000", BODY, header, now=1_700_000_000)
    assert not verify_signature(ORG_SECRET, "1700000000", BODY, "v1=zz, ", now=1_700_000_000)
    assert not verify_signature(ORG_SECRET, "1700000000", BODY, "", now=1_700_000_000)


def test_each_organization_gets_its_own_stable_signing_secret() -> None:
    key = "server-key-" + "z" * 40
    first = organization_signing_secret(key, 1)
    assert first == organization_signing_secret(key, 1)
    assert first != organization_signing_secret(key, 2)
    assert first != organization_signing_secret("other-" + key, 1)
    assert len(first) == 64
