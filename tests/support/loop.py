"""Whether blocking work left the event loop running, judged by events, not by a clock.

``BlockingWork`` wraps the blocking function (a model's inference); ``watch()`` is a
task that takes a turn of the loop every few milliseconds and counts the turns taken
while the wrapped function was running. Work done on the loop's own thread can never
be seen running from the loop, so it leaves ``turns_while_running`` at zero, however
fast or slow the machine. Work that is quick to start (a model returning a lazy
iterator) could end before the loop's next turn: each call therefore waits, in its own
thread, until the loop has seen it running — at once off the loop; on the loop, never
(the wait gives up after ``_GIVE_UP_S`` and the count stays at zero).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from typing import Any, NoReturn

__all__ = ["BlockingWork"]

_TURN_S = 0.005
# Only reached when the work runs on the loop itself (the loop cannot take a turn).
_GIVE_UP_S = 10.0


class BlockingWork:
    """Counts loop turns that happen while the wrapped work runs (in any thread)."""

    def __init__(self) -> None:
        self._running = 0
        self._lock = threading.Lock()
        self.calls = 0
        self.turns_while_running = 0
        self._seen = threading.Event()  # the loop took a turn while work ran

    def _enter(self) -> None:
        with self._lock:
            self._running += 1
            self.calls += 1
        self._seen.wait(_GIVE_UP_S)

    def _leave(self) -> None:
        with self._lock:
            self._running -= 1

    def call(self, function: Callable[..., Any]) -> Callable[..., Any]:
        """``function``, counted as running for the length of each call."""

        def wrapped(*args: Any, **kwargs: Any) -> Any:
            self._enter()
            try:
                return function(*args, **kwargs)
            finally:
                self._leave()

        return wrapped

    def iteration(self, function: Callable[..., Iterator[Any]]) -> Callable[..., Iterator[Any]]:
        """``function`` returning an iterator, counted as running while it is iterated."""

        def wrapped(*args: Any, **kwargs: Any) -> Iterator[Any]:
            self._enter()
            try:
                yield from function(*args, **kwargs)
            finally:
                self._leave()

        return wrapped

    async def watch(self) -> NoReturn:
        """Run until cancelled, counting turns of the loop taken while work runs."""
        while True:
            await asyncio.sleep(_TURN_S)
            with self._lock:
                if self._running:
                    self.turns_while_running += 1
                    self._seen.set()
