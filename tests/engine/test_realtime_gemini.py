"""A Gemini Live call on the loopback far end where Gemini has generated the whole
answer long before the caller hears it (it streams faster than real time): caller
speech over the answer still cuts it where the caller stopped hearing — the first
words Gemini transcribes are the caller starting to speak — and the record keeps the
heard part."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from callwright.engine.events import AssistantMessage, EndReason, Interruption
from callwright.providers.fakes import speech
from tests.engine.gemini_call import KEY, bakery_document, start_call
from tests.vendor_fakes import Reply, serve
from tests.vendor_fakes.gemini_live import GeminiLiveFake

LONG = "We bake bread every morning and cakes every afternoon, " * 6


@pytest.fixture
async def fake() -> AsyncIterator[GeminiLiveFake]:
    fake = GeminiLiveFake(api_key=KEY, heard=("When do you open?", "Wait, stop there please."))
    async with serve(fake.app) as url:
        fake.url = url
        yield fake


async def test_barge_in_over_an_answer_gemini_has_finished_generating(
    fake: GeminiLiveFake,
) -> None:
    fake.chunk_delay_s = 0.0  # the whole answer arrives at once
    fake.script(Reply((LONG,)), Reply(("Sure.",)))
    document = bakery_document(
        interruption_settings={"min_speaking_time": 0.2, "interruption_cooldown": 0}
    )
    async with asyncio.timeout(20):  # only catches a hang
        call = await start_call(fake, document)
        transport, events = call.transport, call.events
        await transport.say(speech(0.6, 8000))
        while not fake.last.spoken or fake.last.spoken[0] != " ".join(LONG.split()):
            await transport.silence(0.1)  # Gemini has said it all
        await transport.silence(1.0)  # the caller has heard about a second of it
        await transport.say(speech(1.0, 8000))
        while sum(isinstance(e, AssistantMessage) for e in events) < 2:
            await transport.silence(0.1)
    await transport.hang_up_caller()
    assert await call.running is EndReason.CUSTOMER_ENDED_CALL

    assert fake.last.interruptions == 0  # nothing left for Gemini to stop
    assert transport.cleared_at  # the far end's buffer was dropped
    answer, again = [e for e in events if isinstance(e, AssistantMessage)]
    assert answer.interrupted
    assert answer.intended == " ".join(LONG.split())
    assert 0 < len(answer.text) < len(answer.intended)
    assert next(e for e in events if isinstance(e, Interruption)).heard == answer.text
    assert again.text == "Sure."
