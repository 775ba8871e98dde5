"""The one way a call ends (``Lifecycle.end``): at once or after a farewell, the first
reason kept, a second farewell ignored, a farewell cut short by an ending at once."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from callwright.clock import VirtualClock
from callwright.engine.events import CallEnded, EndReason, SessionEvent
from callwright.engine.lifecycle import CallState, Farewell, Lifecycle
from callwright.transports.loopback import LoopbackTransport


class _Replies:
    """A speaker whose last words take ``said_in_s`` of the clock to say."""

    def __init__(self, clock: VirtualClock, spawn: Any, said_in_s: float = 2.0) -> None:
        self._clock = clock
        self._spawn = spawn
        self._said_in_s = said_in_s
        self.current: asyncio.Task[None] | None = None
        self.said: list[str] = []
        self.stopped = 0

    def say_last(self, text: str) -> None:
        self.current = self._spawn(self._say(text))

    async def _say(self, text: str) -> None:
        await self._clock.sleep(self._said_in_s)
        self.said.append(text)

    def stop(self) -> None:
        self.stopped += 1
        if self.current is not None and not self.current.done():
            self.current.cancel()


class _Call:
    def __init__(self, group: asyncio.TaskGroup) -> None:
        self.clock = VirtualClock()
        self.transport = LoopbackTransport(self.clock)
        self.events: list[SessionEvent] = []
        self.replies = _Replies(self.clock, self.spawn)
        self._group = group
        self.lifecycle = Lifecycle(
            self.replies, self.spawn, self.transport, self.clock, self.events.append, None
        )

    def spawn(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        return self._group.create_task(work)

    async def run_until_ended(self, limit_s: float = 10.0) -> None:
        ended = asyncio.ensure_future(self.lifecycle.ended())
        while not ended.done() and self.clock.now() < limit_s:
            await self.clock.advance(0.01)
        assert ended.done(), "the call did not end"


async def test_a_farewell_is_said_then_the_call_ends_with_its_reason() -> None:
    async with asyncio.TaskGroup() as group:
        call = _Call(group)
        call.lifecycle.end(EndReason.VOICEMAIL, farewell=Farewell("Please call back."))
        assert call.lifecycle.state is CallState.CLOSING
        await call.run_until_ended()
    assert call.replies.said == ["Please call back."]
    assert call.clock.now() >= 2.0
    assert (call.lifecycle.state, call.lifecycle.reason) == (CallState.ENDED, EndReason.VOICEMAIL)
    assert await call.lifecycle.hang_up() is EndReason.VOICEMAIL
    assert call.transport.hung_up == "voicemail"
    (ended,) = [event for event in call.events if isinstance(event, CallEnded)]
    assert ended.reason is EndReason.VOICEMAIL


async def test_a_second_farewell_is_ignored() -> None:
    handed_over: list[str] = []

    async def transfer() -> None:
        handed_over.append("+14155550100")

    async with asyncio.TaskGroup() as group:
        call = _Call(group)
        call.lifecycle.end(EndReason.EXCEEDED_MAX_DURATION, farewell=Farewell("Time is up."))
        call.lifecycle.end(
            EndReason.ASSISTANT_FORWARDED_CALL, farewell=Farewell("Connecting.", then=transfer)
        )
        await call.run_until_ended()
    assert call.replies.said == ["Time is up."]
    assert handed_over == []
    assert call.lifecycle.reason is EndReason.EXCEEDED_MAX_DURATION


async def test_an_ending_at_once_cuts_a_farewell_short_and_keeps_its_reason() -> None:
    async with asyncio.TaskGroup() as group:
        call = _Call(group)
        call.lifecycle.end(EndReason.SILENCE_TIMED_OUT, farewell=Farewell("Goodbye."))
        await call.clock.advance(0.5)
        call.lifecycle.end(EndReason.CUSTOMER_ENDED_CALL, "hung up")
        await call.run_until_ended()
        assert call.clock.now() < 1.0  # not after the goodbye's 2 s
    assert call.replies.said == []
    assert (call.lifecycle.reason, call.lifecycle.detail) == (
        EndReason.CUSTOMER_ENDED_CALL,
        "hung up",
    )
    assert await call.lifecycle.hang_up() is EndReason.CUSTOMER_ENDED_CALL
    assert call.transport.hung_up is None  # the caller is already gone


async def test_the_first_reason_given_is_the_one_the_call_keeps() -> None:
    async with asyncio.TaskGroup() as group:
        call = _Call(group)
        call.lifecycle.end(EndReason.MANUALLY_CANCELED, "ended through the API")
        call.lifecycle.end(EndReason.TRANSPORT_DROPPED, "the connection closed")
        await call.run_until_ended()
    assert (call.lifecycle.reason, call.lifecycle.detail) == (
        EndReason.MANUALLY_CANCELED,
        "ended through the API",
    )


async def test_a_farewell_without_words_stops_the_reply_then_hands_over() -> None:
    handed_over: list[float] = []

    async def transfer() -> None:
        handed_over.append(call.clock.now())

    async with asyncio.TaskGroup() as group:
        call = _Call(group)
        call.lifecycle.end(
            EndReason.ASSISTANT_FORWARDED_CALL, "+14155550100", farewell=Farewell(then=transfer)
        )
        await call.run_until_ended()
    assert call.replies.stopped == 1
    assert handed_over == [0.0]
    assert call.lifecycle.detail == "+14155550100"
