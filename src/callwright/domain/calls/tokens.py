"""Media-stream tokens: what a carrier (in TwiML's ``<Parameter>``) or a browser (in the
WebSocket URL) presents to open a call's audio stream.

A token names the call, carries an expiry and a random nonce, and is signed with a
key derived from the server's secret. The nonce is also stored on the call row;
connecting clears it in one conditional UPDATE, so a token opens one stream, once,
on any server node.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = [
    "StreamToken",
    "issue_stream_token",
    "read_stream_token",
    "recording_signature",
    "verify_recording_signature",
]

_PREFIX = "cwst"


@dataclass(frozen=True, slots=True)
class StreamToken:
    call_id: int
    nonce: str
    expires_at: int


def _key(secret_key: str) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=b"callwright-stream-token", info=b"v1"
    ).derive(secret_key.encode())


def _signature(key: bytes, payload: str) -> str:
    digest = hmac.new(key, payload.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def issue_stream_token(secret_key: str, call_id: int, ttl_s: int) -> tuple[str, str]:
    """A new token for ``call_id``: returns ``(token, nonce)``; store the nonce."""
    nonce = secrets.token_urlsafe(18)
    payload = f"{_PREFIX}.{call_id}.{nonce}.{int(time.time()) + ttl_s}"
    return f"{payload}.{_signature(_key(secret_key), payload)}", nonce


def read_stream_token(secret_key: str, token: str, *, now: float | None = None) -> StreamToken:
    """The token's contents if it is genuine and unexpired; ``ValueError`` otherwise
    (the caller refuses the stream without saying which check failed)."""
    parts = token.split(".")
    if len(parts) != 5 or parts[0] != _PREFIX:
        raise ValueError("malformed stream token")
    payload, signature = ".".join(parts[:4]), parts[4]
    if not hmac.compare_digest(_signature(_key(secret_key), payload), signature):
        raise ValueError("bad stream token signature")
    try:
        call_id, expires_at = int(parts[1]), int(parts[3])
    except ValueError as exc:
        raise ValueError("malformed stream token") from exc
    if expires_at < (time.time() if now is None else now):
        raise ValueError("expired stream token")
    return StreamToken(call_id, parts[2], expires_at)


def recording_signature(secret_key: str, call_id: int, expires_at: int) -> str:
    """The signature of a call's recording link that expires at ``expires_at`` (epoch
    seconds): lets a webhook receiver download the recording without an API key."""
    return _signature(_key(secret_key), f"recording.{call_id}.{expires_at}")


def verify_recording_signature(
    secret_key: str, call_id: int, expires_at: int, signature: str, *, now: float | None = None
) -> bool:
    if expires_at < (time.time() if now is None else now):
        return False
    # As bytes: compare_digest refuses a str that is not ASCII (a forged link can be any).
    expected = recording_signature(secret_key, call_id, expires_at).encode()
    return hmac.compare_digest(expected, signature.encode("utf-8", "surrogatepass"))
