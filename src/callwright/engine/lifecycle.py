"""How a call ends: one way, ``Lifecycle.end``, whatever ends it.

A call is ``ACTIVE`` until something ends it. An ending either takes effect at once
(the caller hung up, the line dropped, the API ended the call, the pipeline failed, the
assistant said an end-call phrase) or comes with a ``Farewell``: the call is then
``CLOSING`` while the assistant says its last words (not interruptible) and, for a
transfer, hands the call over; it is ``ENDED`` after that. The first reason given is
the one the call keeps; a second polite ending is ignored, but an ending at once still
cuts a farewell short (a caller who hangs up during the goodbye is gone).

``Watchdogs`` end a call that has gone on too long (max_duration_seconds) or gone quiet
(idle_timeout, after max_idle_messages reprompts).

Once the session's tasks have wound down, ``hang_up`` hangs up the line (unless the
far end is already gone), reports ``CallEnded`` and calls the end-of-call hook.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Protocol

from callwright.clock import Clock
from callwright.engine.config import CallConfig
from callwright.engine.events import CallEnded, EndReason, EventSink, IdleReprompt
from callwright.providers.errors import ProviderError
from callwright.transports.protocol import Transport

__all__ = [
    "CallState",
    "EndCallHook",
    "Farewell",
    "Lifecycle",
    "Replies",
    "Spawn",
    "Watchdogs",
    "first_error",
    "held_until_ended",
]

logger = logging.getLogger(__name__)

EndCallHook = Callable[[EndReason], Awaitable[None]]
# Starts a task in the call's TaskGroup (the session owns it).
Spawn = Callable[[Coroutine[Any, Any, None]], asyncio.Task[None]]

# Reasons for which there is no line left to hang up.
_FAR_END_GONE = frozenset({EndReason.CUSTOMER_ENDED_CALL, EndReason.TRANSPORT_DROPPED})


class CallState(enum.Enum):
    """``ACTIVE`` → ``CLOSING`` (a farewell under way) → ``ENDED``; or straight to
    ``ENDED`` when a call ends at once."""

    ACTIVE = "active"
    CLOSING = "closing"
    ENDED = "ended"


@dataclass(frozen=True, slots=True)
class Farewell:
    """How a call closes politely: ``message`` is said (not interruptible) and
    played, then ``then`` runs (a transfer), then the call ends. Without a message, the
    reply in progress is stopped first, unless that reply is what ends the call (the
    end-call tool): it finishes, then the call ends."""

    message: str | None = None
    then: Callable[[], Awaitable[None]] | None = None


class Replies(Protocol):
    """What ending a call needs of the assistant's speaking (``engine.speaking``)."""

    @property
    def current(self) -> asyncio.Task[None] | None: ...

    def say_last(self, text: str) -> None: ...

    def stop(self) -> None: ...


class Lifecycle:
    """The call's state and why it ended (``reason``, ``detail``)."""

    def __init__(
        self,
        replies: Replies,
        spawn: Spawn,
        transport: Transport,
        clock: Clock,
        emit: EventSink,
        on_end: EndCallHook | None,
    ) -> None:
        self._replies = replies
        self._spawn = spawn
        self._transport = transport
        self._clock = clock
        self._emit = emit
        self._on_end = on_end
        self.state = CallState.ACTIVE
        self.reason: EndReason | None = None
        self.detail: str | None = None
        self._ended = asyncio.Event()

    def end(
        self, reason: EndReason, detail: str | None = None, *, farewell: Farewell | None = None
    ) -> None:
        """End the call: at once, or after ``farewell``."""
        if farewell is None:
            self._replies.stop()
            self._conclude(reason, detail)
            return
        if self.state is not CallState.ACTIVE:
            return
        self.state = CallState.CLOSING
        if farewell.message:
            self._replies.say_last(farewell.message)
        else:
            self._replies.stop()
        self._spawn(self._close(self._replies.current, farewell, reason, detail))

    async def _close(
        self,
        reply: asyncio.Task[None] | None,
        farewell: Farewell,
        reason: EndReason,
        detail: str | None,
    ) -> None:
        if reply is not None and not reply.done():
            await asyncio.wait({reply})
        if farewell.then is not None:
            await farewell.then()
        self._conclude(reason, detail)

    def _conclude(self, reason: EndReason, detail: str | None) -> None:
        if self.reason is None:
            self.reason, self.detail = reason, detail
        self.state = CallState.ENDED
        self._ended.set()

    async def ended(self) -> None:
        """Wait until the call has ended."""
        await self._ended.wait()

    async def hang_up(self) -> EndReason:
        """After the call's tasks have wound down: hang up, report, call the hook.
        Returns why the call ended."""
        reason = self.reason or EndReason.PIPELINE_ERROR
        if reason not in _FAR_END_GONE:
            try:
                await self._transport.hang_up(reason.value)
            except Exception:  # the line may already be gone; the call is over anyway
                logger.warning("hang-up failed", exc_info=True)
        self._emit(CallEnded(reason, self._clock.now(), self.detail))
        if self._on_end is not None:
            try:
                await self._on_end(reason)
            except Exception:
                logger.warning("the end-of-call hook failed", exc_info=True)
        return reason


class Watchdogs:
    """max_duration_seconds, and the idle reprompts: after ``idle_timeout`` without
    caller or assistant activity (while neither speaks), idle_message is said, and
    after max_idle_messages of them the call ends."""

    def __init__(
        self,
        config: CallConfig,
        lifecycle: Lifecycle,
        clock: Clock,
        emit: EventSink,
        *,
        busy: Callable[[], bool],
        reprompt: Callable[[str], None],
    ) -> None:
        self._config = config
        self._lifecycle = lifecycle
        self._clock = clock
        self._emit = emit
        self._busy = busy
        self._reprompt = reprompt
        self._last_activity = clock.now()
        self._idle_count = 0

    def touch(self, now: float) -> None:
        """Someone spoke (or the far end played the assistant's words): not idle."""
        self._last_activity = max(self._last_activity, now)

    def caller_took_turn(self) -> None:
        """The caller said something: the reprompts count from zero again."""
        self._idle_count = 0

    async def watch_duration(self, limit_s: float) -> None:
        await self._clock.sleep(limit_s)
        farewell = Farewell(self._config.end_call_message)
        self._lifecycle.end(EndReason.EXCEEDED_MAX_DURATION, farewell=farewell)

    async def watch_idle(self) -> None:
        config = self._config
        timeout = config.idle_timeout_s
        if not timeout:
            return
        while True:
            busy = self._busy()
            now = self._clock.now()
            due = self._last_activity + timeout
            if busy or now < due:
                await self._clock.sleep(max(due - now, 0.05) if not busy else 0.25)
                continue
            if self._idle_count >= config.max_idle_messages:
                farewell = Farewell(config.end_call_message)
                self._lifecycle.end(EndReason.SILENCE_TIMED_OUT, farewell=farewell)
                return
            self._idle_count += 1
            self._emit(IdleReprompt(self._idle_count, now))
            if config.idle_message:
                self._reprompt(config.idle_message)
            self.touch(now)


def first_error(group: BaseExceptionGroup[Exception]) -> BaseException:
    """The first error at the bottom of a TaskGroup's (nested) exception group: what a
    call that failed is said to have failed with."""
    error: BaseException = group
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    return error


async def held_until_ended(
    converse: Callable[[], Awaitable[None]], lifecycle: Lifecycle, what: str
) -> EndReason:
    """Hold a call (``converse``) until it ends; returns why it ended. Whatever fails,
    the call ends with a reason, a hang-up and a ``CallEnded`` event (``what`` names the
    kind of call in the log)."""
    try:
        await converse()
    except* ProviderError as errors:
        error = first_error(errors)
        logger.error("%s failed in a provider: %s", what, error)
        lifecycle.end(EndReason.PIPELINE_ERROR, str(error))
    except* Exception as errors:
        # A bug must still end the call with a reason, never leave it hanging.
        error = first_error(errors)
        logger.exception("%s failed", what, exc_info=error)
        lifecycle.end(EndReason.PIPELINE_ERROR, f"{type(error).__name__}: {error}")
    return await lifecycle.hang_up()
