"""The model's function calls on a realtime call (decision 018): the built-in
``end_call`` and ``transfer_call`` act on the call as in pipeline mode; the other
calls are collected per answer and run once that answer has ended — ``send_dtmf``
plays its keys into the call and ``search_knowledge`` searches the call's knowledge
base (``replies.builtin_answer``, as in pipeline mode), custom tools go to the call's
tool runner — and their results are given back (``ToolOutput``) for the model to
answer again."""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Awaitable, Callable

from callwright.clock import Clock
from callwright.engine.config import CallConfig
from callwright.engine.events import EndReason, EventSink, ToolAnswered, ToolCalled, TurnTiming
from callwright.engine.lifecycle import Farewell, Spawn
from callwright.engine.realtime_voice import RealtimeVoice
from callwright.engine.replies import Retriever, ToolHooks, ToolRunner, builtin_answer
from callwright.engine.speaking import AssistantListener
from callwright.providers.protocols import ToolCall, ToolSpec
from callwright.providers.realtime.protocol import (
    RealtimeConnection,
    ToolCallRequested,
    ToolOutput,
)
from callwright.transports.protocol import Transport

__all__ = ["RealtimeTools"]

_NO_TOOL = "This tool is not available on this call."


class RealtimeTools:
    """One call's function calls. ``active`` says whether the call still goes on."""

    def __init__(
        self,
        config: CallConfig,
        voice: RealtimeVoice,
        transport: Transport,
        clock: Clock,
        emit: EventSink,
        *,
        spawn: Spawn,
        call: AssistantListener,
        active: Callable[[], bool],
        run_custom: ToolRunner | None,
        offered: tuple[ToolSpec, ...] = (),
        send_dtmf: Callable[[str], Awaitable[None]] | None = None,
        search_knowledge: Retriever | None = None,
    ) -> None:
        self._config = config
        self._voice = voice
        self._transport = transport
        self._clock = clock
        self._emit = emit
        self._spawn = spawn
        self._call = call
        self._active = active
        self._run_custom = run_custom
        self._offered = {spec.name for spec in offered}
        self._hooks = ToolHooks(
            send_dtmf=send_dtmf, search_knowledge=search_knowledge, emit=emit, now=clock.now
        )
        self._connection: RealtimeConnection | None = None
        self._pending: list[ToolCall] = []

    def attach(self, connection: RealtimeConnection) -> None:
        self._connection = connection

    def requested(self, event: ToolCallRequested, now: float) -> None:
        """The model called a function in the answer in progress."""
        if self._voice.outstanding != 1 or not self._voice.replying:
            return  # from an answer that was cut short
        self._emit(ToolCalled(event.call_id, event.name, event.arguments, now))
        if event.name == "end_call" and self._config.end_call_tool.enabled:
            self._spawn(self._end_after_answer())
        elif event.name == "transfer_call" and self._config.transfer_tool.enabled:
            self._transfer(_argument(event.arguments, "destination"))
        else:
            self._pending.append(ToolCall(event.call_id, event.name, event.arguments))

    def answered(self) -> None:
        """An answer ended: its custom tool calls run, and the model answers again."""
        calls, self._pending = self._pending, []
        if calls and self._active():
            self._spawn(self._run(calls))

    async def _end_after_answer(self) -> None:
        """The end-call tool: its message, else the answer it came with, then the end."""
        message = self._config.end_call_tool.message
        if message:
            self._call.end(EndReason.ASSISTANT_ENDED_CALL, farewell=Farewell(message))
            return
        answer = self._voice.current
        if answer is not None and not answer.done():
            await asyncio.wait({answer})
        self._call.end(EndReason.ASSISTANT_ENDED_CALL)

    def _transfer(self, destination: str) -> None:
        numbers = self._config.transfer_tool.numbers
        target = destination if destination in numbers else numbers[0]
        hand_over = functools.partial(self._transport.transfer, target)
        farewell = Farewell(self._config.transfer_tool.message, then=hand_over)
        self._call.end(EndReason.ASSISTANT_FORWARDED_CALL, target, farewell=farewell)

    async def _run(self, calls: list[ToolCall]) -> None:
        assert self._connection is not None
        results: list[tuple[str, str]] = []
        custom: list[ToolCall] = []
        for call in calls:
            answer = await builtin_answer(call, self._hooks, self._offered)
            if answer is None:
                custom.append(call)
            else:
                results.append((call.id, answer))
        if custom and self._run_custom is not None:
            results += await self._run_custom(custom)
        else:
            results += [(call.id, _NO_TOOL) for call in custom]
        for call_id, result in results:
            self._emit(ToolAnswered(call_id, result, self._clock.now()))
            await self._connection.send(ToolOutput(call_id, result))
        if self._active():
            self._voice.start(TurnTiming(0))


def _argument(arguments: str, name: str) -> str:
    try:
        parsed = json.loads(arguments or "{}")
    except json.JSONDecodeError:
        return ""
    return str(parsed.get(name, "")) if isinstance(parsed, dict) else ""
