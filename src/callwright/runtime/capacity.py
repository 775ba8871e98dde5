"""This process's places for calls: calls running and calls issued whose stream has
not connected yet both hold one, so that past ``max_concurrent_calls`` new calls are
refused cleanly (a busy signal, a 503) and the calls already up never degrade."""

from __future__ import annotations

import time

from callwright.errors import ServiceBusy
from callwright.observability import metrics

__all__ = ["CallPlaces"]


class CallPlaces:
    """``limit`` places; an issued call holds a reserved place for ``reserve_s`` (its
    token's lifetime) or until its session runs and counts as active instead."""

    def __init__(self, limit: int, reserve_s: float) -> None:
        self._limit = limit
        self._reserve_s = reserve_s
        # Calls issued but not yet connected hold a place until their token expires.
        self._reserved: dict[int, float] = {}

    def check(self, active: int, call_type: str) -> None:
        """Refuse a new call when this process is full (``ServiceBusy``)."""
        now = time.monotonic()
        for call_id, expires in list(self._reserved.items()):
            if expires < now:
                del self._reserved[call_id]
        if active + len(self._reserved) >= self._limit:
            metrics.call_refused(call_type)
            raise ServiceBusy(
                f"this server is at its limit of {self._limit} concurrent calls; try again shortly"
            )

    def reserve(self, call_id: int) -> None:
        """Hold a place for an issued call until its stream connects (or its token
        expires), so a burst of new calls cannot overshoot the limit."""
        self._reserved[call_id] = time.monotonic() + self._reserve_s

    def reserved(self) -> list[int]:
        """The calls holding a reserved place now (issued here, not yet connected here)."""
        now = time.monotonic()
        return [call_id for call_id, expires in self._reserved.items() if expires >= now]

    def release(self, call_id: int) -> None:
        """The call's reserved place, if it still holds one, is given back (it runs,
        or it ended without running)."""
        self._reserved.pop(call_id, None)
