"""Errors a provider adapter raises: vendor exceptions are translated at the adapter's
boundary (``raise ... from exc``) into exactly these, so the engine's fallback and
retry rules never look at a vendor's own types.

::

    ProviderError (retryable unless said otherwise)
    ├── ProviderTimeout        connect, first byte or whole-response deadline passed
    ├── ProviderAuthError      bad or missing credentials (not retryable)
    ├── ProviderRateLimited    429 / quota; ``retry_after_s`` when the vendor says
    ├── ProviderUnavailable    5xx, connection refused or dropped mid-stream
    └── ProviderRequestError   the vendor refused the request itself (not retryable)
"""

from __future__ import annotations

__all__ = [
    "ProviderAuthError",
    "ProviderError",
    "ProviderRateLimited",
    "ProviderRequestError",
    "ProviderTimeout",
    "ProviderUnavailable",
]


class ProviderError(Exception):
    """A provider failed; ``provider`` names it (e.g. ``"openai"``)."""

    retryable: bool = True

    def __init__(self, provider: str, message: str) -> None:
        super().__init__(f"{provider}: {message}")
        self.provider = provider
        self.message = message


class ProviderTimeout(ProviderError):
    """Connect, first byte or the whole response took longer than allowed."""


class ProviderAuthError(ProviderError):
    retryable = False


class ProviderRateLimited(ProviderError):
    def __init__(self, provider: str, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(provider, message)
        self.retry_after_s = retry_after_s


class ProviderUnavailable(ProviderError):
    """5xx, connection refused, or the connection dropped mid-stream."""


class ProviderRequestError(ProviderError):
    retryable = False
