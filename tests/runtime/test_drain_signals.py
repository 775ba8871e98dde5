"""Which signal does what while the app holds SIGTERM and SIGINT (``signal_drain``): the
first starts the drain and nothing else, a repeated SIGTERM (a supervisor's) is ignored,
SIGINT while draining is handed on at once (a second Ctrl-C), ``stop_server`` hands
the first signal on once drained, and the handlers from before are back afterwards.
Real signals, raised on the test runner's main thread."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType, SimpleNamespace
from typing import Any, cast

from callwright.runtime.calls import CallRuntime
from callwright.runtime.drain import Drain, signal_drain
from callwright.runtime.nodes import LocalNode


def _drain() -> Drain:
    # Only ``request`` is used here: the drain itself is tests/calls/test_drain.py's.
    return Drain(
        cast(CallRuntime, object()),
        cast(LocalNode, SimpleNamespace(id="node-under-test")),
        cast(Any, object()),
        timeout_s=30,
        webhooks_timeout_s=10,
        deliver_here=False,
    )


@contextmanager
def handed_on() -> Iterator[list[int]]:
    """The handlers a server had before the app (uvicorn's): they record what reaches
    them."""
    seen: list[int] = []

    def handler(sig: int, _frame: FrameType | None) -> None:
        seen.append(sig)

    before = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield seen
    finally:
        for sig, previous in before.items():
            signal.signal(sig, previous)


async def _until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 10  # a safety bound
    while not condition():
        assert time.monotonic() < deadline
        await asyncio.sleep(0.01)


async def test_first_signal_drains_a_repeat_is_ignored_sigint_stops_at_once() -> None:
    drain = _drain()
    with handed_on() as seen:
        handler_before = signal.getsignal(signal.SIGTERM)
        async with signal_drain(drain, enabled=True):
            signal.raise_signal(signal.SIGTERM)
            await _until(lambda: drain.requested)
            signal.raise_signal(signal.SIGTERM)
            await asyncio.sleep(0.05)
            assert seen == []
            signal.raise_signal(signal.SIGINT)
            await _until(lambda: bool(seen))
            assert seen == [signal.SIGINT]
        assert signal.getsignal(signal.SIGTERM) is handler_before


async def test_stop_server_hands_the_first_signal_on() -> None:
    drain = _drain()
    with handed_on() as seen:
        async with signal_drain(drain, enabled=True) as stop_server:
            signal.raise_signal(signal.SIGINT)
            await _until(lambda: drain.requested)
            assert seen == []
            stop_server()
            assert seen == [signal.SIGINT]


async def test_not_enabled_leaves_signals_alone() -> None:
    drain = _drain()
    with handed_on() as seen:
        async with signal_drain(drain, enabled=False) as stop_server:
            signal.raise_signal(signal.SIGTERM)
            await asyncio.sleep(0.05)
            stop_server()
        assert seen == [signal.SIGTERM]
        assert not drain.requested
