"""Errors a provider adapter raises: vendor exceptions are translated at the adapter's
boundary (``raise ... from exc``) into exactly these, so the engine's fallback and
retry rules never look at a vendor's own types. They are ``CallwrightError``s (502:
our upstream failed), drawn in the one tree in ``callwright.errors``.

::

    ProviderError (retryable unless said otherwise)
    ├── ProviderTimeout        connect, first byte or whole-response deadline passed
    ├── ProviderAuthError      bad or missing credentials (not retryable)
    ├── ProviderRateLimited    429 / quota; ``retry_after_s`` when the vendor says
    ├── ProviderUnavailable    5xx, connection refused or dropped mid-stream
    └── ProviderRequestError   the vendor refused the request itself (not retryable)
"""

from __future__ import annotations

from typing import Any

from callwright.errors import CallwrightError

__all__ = [
    "ProviderAuthError",
    "ProviderError",
    "ProviderRateLimited",
    "ProviderRequestError",
    "ProviderTimeout",
    "ProviderUnavailable",
]


class ProviderError(CallwrightError):
    """A provider failed; ``provider`` names it (e.g. ``"openai"``), ``message`` says
    what happened (the exception's text is ``"<provider>: <message>"``)."""

    status_code = 502
    code = "provider_error"
    retryable: bool = True

    def __init__(self, provider: str, message: str) -> None:
        super().__init__(f"{provider}: {message}")
        self.provider = provider
        self.message = message

    def body(self) -> dict[str, Any]:
        return {"error": str(self), "code": self.code, "details": self.details}


class ProviderTimeout(ProviderError):
    """Connect, first byte or the whole response took longer than allowed."""

    code = "provider_timeout"


class ProviderAuthError(ProviderError):
    """The vendor refused the credentials (or none resolved)."""

    code = "provider_auth_failed"
    retryable = False


class ProviderRateLimited(ProviderError):
    """429 or an exhausted quota; ``retry_after_s`` when the vendor says."""

    code = "provider_rate_limited"

    def __init__(self, provider: str, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(provider, message)
        self.retry_after_s = retry_after_s


class ProviderUnavailable(ProviderError):
    """5xx, connection refused, or the connection dropped mid-stream."""

    code = "provider_unavailable"


class ProviderRequestError(ProviderError):
    """The vendor refused the request itself (4xx other than auth and rate limits)."""

    code = "provider_request_refused"
    retryable = False
