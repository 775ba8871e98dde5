"""Signing what callwright sends: webhooks, tool calls and the end-call URL, all with
one scheme (decisions 007 and 008)::

    X-Callwright-Timestamp: <unix seconds>
    X-Callwright-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>

The secret is an organization's: derived from the server's secret key with HKDF
(``organization_signing_secret``) until the organization rotates it, then stored
(``domain.signing_secrets``). Receivers check a request with ``verify_signature``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = [
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "organization_signing_secret",
    "sign",
    "verify_signature",
]

SIGNATURE_HEADER = "X-Callwright-Signature"
TIMESTAMP_HEADER = "X-Callwright-Timestamp"


def organization_signing_secret(secret_key: str, organization_id: int) -> str:
    """The HMAC key that signs an organization's outgoing requests (tool calls, the
    end-call URL): derived from the server's secret key, so nothing extra is stored and
    every server node agrees."""
    return (
        HKDF(
            algorithm=hashes.SHA256(),
            length=32,
            salt=b"callwright-organization-signing",
            info=f"organization:{organization_id}".encode(),
        )
        .derive(secret_key.encode())
        .hex()
    )


def sign(secret: str | bytes, timestamp: int | str, body: bytes | str) -> str:
    """The ``X-Callwright-Signature`` value: ``v1=`` + hex HMAC-SHA256 of ``"<ts>.<body>"``."""
    key = secret.encode() if isinstance(secret, str) else secret
    payload = f"{timestamp}.".encode() + (body.encode() if isinstance(body, str) else body)
    return "v1=" + hmac.new(key, payload, hashlib.sha256).hexdigest()


def verify_signature(
    secret: str | bytes,
    timestamp: str | int,
    body: bytes | str,
    signature: str,
    *,
    tolerance_s: float = 300,
    now: float | None = None,
) -> bool:
    """Whether ``signature`` (the header; comma-separated ``v1=`` values allowed, for key
    rotation) signs the raw ``body`` as received, and ``timestamp`` (the header) is within
    ``tolerance_s`` of ``now`` (Unix seconds; default the wall clock), so a captured
    request cannot be replayed later. Check before parsing the body."""
    stamp = str(timestamp).strip()
    if not re.fullmatch(r"[0-9]{1,12}", stamp):
        return False
    if abs((time.time() if now is None else now) - int(stamp)) > tolerance_s:
        return False
    expected = sign(secret, stamp, body).encode()
    candidates = [part.encode() for part in re.split(r"[,\s]+", signature) if part]
    return any(hmac.compare_digest(candidate, expected) for candidate in candidates)
