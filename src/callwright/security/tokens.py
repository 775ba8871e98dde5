"""API keys and session tokens: random, prefixed, stored only as SHA-256 digests.

A plain (unsalted) SHA-256 is right here: the tokens carry 256 bits of entropy, so
nothing can be guessed from the digest, and a digest can be looked up by index.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

__all__ = [
    "API_KEY_PREFIX",
    "digest",
    "digests_equal",
    "display_prefix",
    "new_api_key",
    "new_session_token",
]

API_KEY_PREFIX = "cw_"


def new_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def new_session_token() -> str:
    return secrets.token_urlsafe(32)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def digests_equal(token: str, expected_digest: str) -> bool:
    return hmac.compare_digest(digest(token), expected_digest)


def display_prefix(api_key: str) -> str:
    """The part of a key shown in listings, enough to tell keys apart."""
    return api_key[:10]
