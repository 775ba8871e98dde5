"""How the fallback transcriber and voice tell the session that one of them failed
and another took over: a ``FailoverSink``, which the session turns into
``ProviderFailed`` events for the call's record and metrics."""

from __future__ import annotations

from collections.abc import Callable

from callwright.clock import Clock
from callwright.engine.events import EventSink, ProviderFailed
from callwright.providers.errors import ProviderError

__all__ = ["FailoverSink", "failover_events"]

FailoverSink = Callable[[str, str, ProviderError, str | None], None]
"""Told of each failover: (kind, the provider that failed, its error, the provider
taking over, or None when none is left)."""


def failover_events(sink: EventSink, clock: Clock) -> FailoverSink:
    """A ``FailoverSink`` emitting each failover to ``sink`` as ``ProviderFailed``."""

    def report(kind: str, provider: str, error: ProviderError, replacement: str | None) -> None:
        sink(ProviderFailed(kind, provider, error.message, replacement, clock.now()))

    return report
