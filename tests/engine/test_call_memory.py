"""A finished call is freed by reference counting: nothing it leaves waits for the
collector (whose full pass walks every live call and pauses their audio).

The call runs with the collector off; once it has returned and its references are
dropped, the session must be gone and ``gc.collect`` must find no garbage at all."""

from __future__ import annotations

import asyncio
import gc
import types
import weakref
from pathlib import Path

import pytest

import callwright
from callwright.engine.events import AssistantMessage, EndReason, Interruption
from callwright.providers.fakes import speech
from callwright.transports.loopback import LoopbackTransport
from tests.engine.harness import Caller, make_call
from tests.engine.test_interruptions_and_endings import LONG_REPLY
from tests.engine.test_realtime_session import fake, welcome_to_end_call
from tests.vendor_fakes.openai_realtime import OpenAIRealtimeFake

SOURCE = str(Path(callwright.__file__).parent)
__all__ = ["fake"]  # the realtime vendor fake, a fixture


def _caller(ending: EndReason) -> Caller:
    """Hears the greeting, asks, talks over the answer (a barge-in), then hangs up or
    says goodbye (the assistant then says its farewell and hangs up)."""

    async def caller(transport: LoopbackTransport) -> None:
        await transport.silence(2)
        await transport.say(speech(0.6))
        await transport.silence(0.5 + 0.2 + 0.1 + 4.0)  # endpointing, LLM, TTS, playback
        await transport.say(speech(1.5))
        await transport.silence(6)
        if ending is EndReason.CUSTOMER_ENDED_CALL:
            await transport.hang_up_caller()
        else:
            await transport.say(speech(0.8))
            await transport.silence(10)

    return caller


async def _one_call(ending: EndReason) -> tuple[weakref.ref[object], EndReason, int]:
    """One call through greeting, a turn, a barge-in and ``ending``; returns a
    reference to its session, why it ended and how many barge-ins it had."""
    call = make_call(
        llm_settings={"welcome_message": "Hello, Acme here."},
        interruption_settings={"interruption_threshold": 2, "min_speaking_time": 5},
        utterances=("When are you open?", "So, Sunday?", "Okay goodbye then."),
        replies=[LONG_REPLY, "Closed on Sunday."],
        end_call_trigger_phrase="goodbye",
        end_call_message="Bye!",
    )
    call.llm.token_s = 0.2  # the reply is still being written when it is cut off
    run = asyncio.ensure_future(call.session.run())
    caller = asyncio.ensure_future(_caller(ending)(call.transport))
    while not (run.done() and caller.done()):
        await call.clock.advance(0.01)
    caller.result()
    reason = run.result()
    interruptions = len(call.of(Interruption))
    session: weakref.ref[object] = weakref.ref(call.session)
    return session, reason, interruptions


@pytest.mark.usefixtures("collector_off")
@pytest.mark.parametrize(
    "ending", [EndReason.CUSTOMER_ENDED_CALL, EndReason.CUSTOMER_SAID_END_CALL_PHRASE]
)
async def test_a_finished_call_leaves_no_cyclic_garbage(ending: EndReason) -> None:
    await _one_call(ending)  # warm: first-use caches are not the call's garbage
    gc.collect()

    session, reason, interruptions = await _one_call(ending)

    assert (reason, interruptions) == (ending, 1)
    assert session() is None, "the session outlived its call: it is in a reference cycle"
    assert gc.collect() == 0


def _callwrights(garbage: list[object]) -> list[str]:
    """What of callwright's the collector found: its objects and its frames."""
    found = []
    for thing in garbage:
        if type(thing) is types.FrameType:
            if thing.f_code.co_filename.startswith(SOURCE):
                found.append(f"frame {thing.f_code.co_qualname}")
        elif type(thing).__module__.startswith("callwright."):
            found.append(type(thing).__qualname__)
    return sorted(set(found))


async def _one_realtime_call(fake: OpenAIRealtimeFake) -> tuple[weakref.ref[object], EndReason]:
    """A realtime call: the welcome, a question, a barge-in on the answer, a tool, the
    end-call tool (the test of ``test_realtime_session``, without its checks)."""
    call = welcome_to_end_call(fake)
    running = asyncio.ensure_future(call.session.run())
    await call.until(lambda: call.of(AssistantMessage))
    welcome_frames = len(call.transport.sent)
    await call.transport.say(speech(0.6, 8000))
    await call.until(lambda: len(call.transport.sent) > welcome_frames + 5)
    await call.transport.silence(0.5)
    await call.transport.say(speech(0.8, 8000))
    await call.until(running.done)
    assert call.of(Interruption)
    return weakref.ref(call.session), running.result()


@pytest.mark.usefixtures("collector_off")
async def test_a_finished_realtime_call_leaves_no_cyclic_garbage(
    fake: OpenAIRealtimeFake,
) -> None:
    await _one_realtime_call(fake)  # warm
    gc.collect()

    session, reason = await _one_realtime_call(fake)

    assert reason is EndReason.ASSISTANT_ENDED_CALL
    assert session() is None, "the session outlived its call: it is in a reference cycle"
    # The WebSocket client and the vendor fake may leave garbage of their own.
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        gc.collect()
        assert _callwrights(gc.garbage) == []
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
