"""Event-loop lag: how late the loop runs a timer that was due.

Every call in a process shares one event loop; a 20 ms audio frame that waits behind
someone's slow callback is late for everyone. ``watch_event_loop`` sleeps ``interval_s``
over and over and records how much later than asked it woke (its own wake-up cost is
tens of microseconds, so anything above ~1 ms is time the loop spent elsewhere). Run it
as a background task for the life of the app::

    background.create_task(watch_event_loop(metrics), name="event-loop-lag")
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable

from callwright.observability.metrics import Metrics, default_metrics

__all__ = ["LagSamples", "watch_event_loop"]


class LagSamples:
    """The most recent lag samples (bounded), for exact percentiles in benchmarks."""

    def __init__(self, maxlen: int = 100_000) -> None:
        self.values: deque[float] = deque(maxlen=maxlen)

    def __call__(self, lag_s: float) -> None:
        self.values.append(lag_s)

    def clear(self) -> None:
        self.values.clear()


async def watch_event_loop(
    metrics: Metrics | None = None,
    *,
    interval_s: float = 0.1,
    also: Callable[[float], None] | None = None,
) -> None:
    """Measure the loop's lag every ``interval_s`` until cancelled; each sample goes to
    ``metrics.event_loop_lag`` and to ``also``."""
    histogram = (metrics or default_metrics()).event_loop_lag
    while True:
        asked = time.perf_counter()
        await asyncio.sleep(interval_s)
        lag = max(0.0, time.perf_counter() - asked - interval_s)
        histogram.observe(lag)
        if also is not None:
            also(lag)
