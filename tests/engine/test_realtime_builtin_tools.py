"""The built-in tools that report back act in realtime mode as in pipeline mode, on a
realtime call built by ``runtime.realtime.realtime_session`` against the Gemini Live
fake: ``search_knowledge`` searches the call's knowledge base and ``send_dtmf`` plays
its keys into the call; both results reach the model as function responses, and the
model answers from them. Without a knowledge base the search is not offered."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

import pytest

from callwright.audio.dtmf import dtmf_audio
from callwright.engine.events import (
    AssistantMessage,
    EndReason,
    KnowledgeUsed,
    Passage,
    ToolAnswered,
)
from callwright.providers.fakes import speech
from tests.engine.gemini_call import KEY, bakery_document, start_call
from tests.vendor_fakes import Reply, ScriptedCall, serve
from tests.vendor_fakes.gemini_live import GeminiLiveFake

HOURS = "The bakery opens at seven on weekdays."


@pytest.fixture
async def fake() -> AsyncIterator[GeminiLiveFake]:
    fake = GeminiLiveFake(api_key=KEY, heard=("When do you open? Then press 1 2.",))
    async with serve(fake.app) as url:
        fake.url = url
        yield fake


async def test_search_knowledge_and_send_dtmf_act_and_answer(fake: GeminiLiveFake) -> None:
    fake.script(
        Reply(
            calls=(
                ScriptedCall("search_knowledge", {"query": "opening hours"}, id="fc-1"),
                ScriptedCall("send_dtmf", {"digits": "12#"}, id="fc-2"),
            )
        ),
        Reply(("We open at seven.",)),
    )
    document = bakery_document(tools_settings={"enabled_tools": ["search_knowledge", "send_dtmf"]})
    queries: list[str] = []

    async def retrieve(query: str) -> Sequence[Passage]:
        queries.append(query)
        return [Passage(HOURS, 0.9, chunk_id=3, document_id=1)]

    async with asyncio.timeout(15):  # only catches a hang
        call = await start_call(fake, document, retrieve=retrieve)
        transport, events = call.transport, call.events
        await transport.say(speech(0.6, 8000))
        while not any(isinstance(e, AssistantMessage) for e in events):
            await transport.silence(0.1)
    await transport.hang_up_caller()
    assert await call.running is EndReason.CUSTOMER_ENDED_CALL

    declarations = fake.last.setup["tools"][0]["functionDeclarations"]
    assert [d["name"] for d in declarations] == ["send_dtmf", "search_knowledge"]
    assert queries == ["opening hours"]
    used = [e for e in events if isinstance(e, KnowledgeUsed)]
    assert [(e.query, e.passages[0].text) for e in used] == [("opening hours", HOURS)]
    # The keys, as touch tones, into the call.
    tones = dtmf_audio("12#", 8000)
    assert any(sent.pcm16 == tones for sent in transport.sent)
    assert [(e.call_id, e.result) for e in events if isinstance(e, ToolAnswered)] == [
        ("fc-1", HOURS),
        ("fc-2", "pressed 12#"),
    ]
    assert fake.last.tool_results == [
        {"id": "fc-1", "name": "search_knowledge", "response": {"output": HOURS}},
        {"id": "fc-2", "name": "send_dtmf", "response": {"output": "pressed 12#"}},
    ]
    answer = [e for e in events if isinstance(e, AssistantMessage)]
    assert [a.text for a in answer] == ["We open at seven."]


async def test_without_a_knowledge_base_the_search_is_not_offered(fake: GeminiLiveFake) -> None:
    document = bakery_document(tools_settings={"enabled_tools": ["search_knowledge", "send_dtmf"]})
    async with asyncio.timeout(15):  # only catches a hang
        call = await start_call(fake, document, retrieve=None)
    await call.transport.hang_up_caller()
    assert await call.running is EndReason.CUSTOMER_ENDED_CALL
    declarations = fake.last.setup["tools"][0]["functionDeclarations"]
    assert [d["name"] for d in declarations] == ["send_dtmf"]


async def test_a_trigger_phrase_ends_the_call_with_the_farewell_heard(
    fake: GeminiLiveFake,
) -> None:
    """Gemini starts answering the caller's turn by itself; the session, seeing the
    trigger phrase in the transcript, ends the call: the farewell replaces that answer
    and is played whole before the hang-up."""
    fake.heard = ["Okay, goodbye now."]
    fake.chunk_delay_s = 0.02
    fake.script(Reply(("An answer nobody asked for, " * 4,)))
    document = bakery_document(end_call_trigger_phrase="goodbye", end_call_message="Bye bye!")
    async with asyncio.timeout(15):  # only catches a hang
        call = await start_call(fake, document)
        transport, events = call.transport, call.events
        await transport.say(speech(0.6, 8000))
        while not call.running.done():
            await transport.silence(0.1)
    assert await call.running is EndReason.CUSTOMER_SAID_END_CALL_PHRASE
    said = [(e.text, e.interrupted) for e in events if isinstance(e, AssistantMessage)]
    assert said == [("Bye bye!", False)]
    assert fake.last.spoken[-1] == "Bye bye!"
    assert transport.hung_up is not None
