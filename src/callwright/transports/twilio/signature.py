"""Twilio's request signature (``X-Twilio-Signature``).

Twilio signs each webhook request with the account's auth token: HMAC-SHA1 over the
full URL it requested, followed, for a form POST, by every parameter name and value
sorted by name, base64-encoded. Twilio may or may not have included a default port
in the URL it signed, so both forms are accepted. A parameter sent more than once
(same name) contributes each distinct value once, in sorted order.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable
from urllib.parse import urlsplit, urlunsplit

__all__ = ["twilio_signature", "verify_twilio_signature"]

_DEFAULT_PORTS = {"https": 443, "http": 80, "wss": 443, "ws": 80}


def twilio_signature(auth_token: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    """The signature Twilio sends for a request to ``url`` with form ``params``."""
    # A repeated parameter counts once per distinct value, as Twilio's own libraries do.
    data = url + "".join(key + value for key, value in sorted(set(params)))
    digest = hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def _url_variants(url: str) -> list[str]:
    parts = urlsplit(url)
    default = _DEFAULT_PORTS.get(parts.scheme)
    host = parts.hostname or ""
    if parts.port is not None:
        variants = [url]
        if parts.port == default:
            variants.append(urlunsplit(parts._replace(netloc=_netloc(parts, host, None))))
        return variants
    if default is None:
        return [url]
    return [url, urlunsplit(parts._replace(netloc=_netloc(parts, host, default)))]


def _netloc(parts: object, host: str, port: int | None) -> str:
    userinfo = getattr(parts, "netloc", "").rpartition("@")[0]
    netloc = f"{userinfo}@" if userinfo else ""
    netloc += f"[{host}]" if ":" in host else host
    return f"{netloc}:{port}" if port is not None else netloc


def verify_twilio_signature(
    auth_token: str, url: str, params: Iterable[tuple[str, str]], signature: str | None
) -> bool:
    """True when ``signature`` is Twilio's for this request (constant-time compare)."""
    if not signature:
        return False
    pairs = list(params)
    return any(
        hmac.compare_digest(twilio_signature(auth_token, variant, pairs), signature)
        for variant in _url_variants(url)
    )
