"""``tools_settings.enabled_tools``: every name it accepts changes what the model is
offered, and the built-ins it adds act: ``send_dtmf`` plays the keys as tones into the
call, ``search_knowledge`` answers from the assistant's retriever."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from callwright.engine.events import KnowledgeUsed, Passage, ToolAnswered
from callwright.providers.protocols import ToolCall, ToolSpec
from tests.engine.harness import make_call, run_call
from tests.engine.test_conversation import hang_up_after
from tests.support.dtmf import detect_dtmf

LOOKUP = ToolSpec("lookup_order", "Find an order.", {"type": "object", "properties": {}})
REFUND = ToolSpec("refund_order", "Refund an order.", {"type": "object", "properties": {}})


async def _offered(**settings: Any) -> list[str]:
    call = make_call(utterances=("Hello?",), replies=["Hi."], **settings)
    await run_call(call, hang_up_after(("say", 0.6), ("silence", 4)))
    return [tool.name for tool in call.llm.requests[0].tools]


async def _no_passages(query: str) -> Sequence[Passage]:
    return ()


async def test_enabled_tools_end_call_offers_end_call() -> None:
    assert "end_call" not in await _offered()
    assert "end_call" in await _offered(tools_settings={"enabled_tools": ["end_call"]})


async def test_enabled_tools_transfer_call_offers_transfer_call() -> None:
    transfer = {"transfer_numbers": ["+14155550142"]}
    assert "transfer_call" not in await _offered(tools_settings={"transfer_call": transfer})
    enabled = {"enabled_tools": ["transfer_call"], "transfer_call": transfer}
    assert "transfer_call" in await _offered(tools_settings=enabled)


async def test_enabled_tools_send_dtmf_offers_send_dtmf() -> None:
    assert "send_dtmf" not in await _offered()
    assert await _offered(tools_settings={"enabled_tools": ["send_dtmf"]}) == ["send_dtmf"]


async def test_enabled_tools_search_knowledge_offers_search_knowledge() -> None:
    rag = {"enabled": True}
    plain = await _offered(rag_settings=rag, retrieve=_no_passages)
    assert "search_knowledge" not in plain
    enabled = await _offered(
        rag_settings=rag,
        retrieve=_no_passages,
        tools_settings={"enabled_tools": ["search_knowledge"]},
    )
    assert enabled == ["search_knowledge"]


async def test_enabled_tools_naming_a_custom_tool_offers_only_the_named_ones() -> None:
    assert await _offered(custom_tools=(LOOKUP, REFUND)) == ["lookup_order", "refund_order"]
    named = await _offered(
        custom_tools=(LOOKUP, REFUND), tools_settings={"enabled_tools": ["lookup_order"]}
    )
    assert named == ["lookup_order"]


async def test_send_dtmf_plays_the_keys_into_the_call() -> None:
    call = make_call(
        utterances=("Press one then pound for sales.",),
        replies=[[ToolCall("call_1", "send_dtmf", '{"digits": "1#"}')], "Done."],
        tools_settings={"enabled_tools": ["send_dtmf"]},
    )
    await run_call(call, hang_up_after(("say", 0.6), ("silence", 6)))
    audio = b"".join(sent.pcm16 for sent in call.transport.sent)
    assert detect_dtmf(audio, call.transport.sample_rate) == "1#"
    (answered,) = call.of(ToolAnswered)
    assert answered.result == "pressed 1#"
    # The model heard that the keys were pressed and answered on.
    assert call.llm.requests[1].messages[-1].content == "pressed 1#"


async def test_send_dtmf_refuses_keys_that_do_not_exist() -> None:
    call = make_call(
        utterances=("Press one.",),
        replies=[[ToolCall("call_1", "send_dtmf", '{"digits": "1X"}')], "Sorry."],
        tools_settings={"enabled_tools": ["send_dtmf"]},
    )
    await run_call(call, hang_up_after(("say", 0.6), ("silence", 6)))
    (answered,) = call.of(ToolAnswered)
    assert answered.result.startswith("no keys pressed: 'X' is not a DTMF key")
    audio = b"".join(sent.pcm16 for sent in call.transport.sent)
    assert detect_dtmf(audio, call.transport.sample_rate) == ""


async def test_search_knowledge_answers_from_the_retriever() -> None:
    queries: list[str] = []

    async def retrieve(query: str) -> Sequence[Passage]:
        queries.append(query)
        return (Passage("Returns are free within 30 days.", 0.9, 1, 1),)

    call = make_call(
        utterances=("Can I return it?",),
        replies=[[ToolCall("call_1", "search_knowledge", '{"query": "return policy"}')], "Yes."],
        rag_settings={"enabled": True},
        retrieve=retrieve,
        tools_settings={"enabled_tools": ["search_knowledge"]},
    )
    await run_call(call, hang_up_after(("say", 0.6), ("silence", 6)))
    assert "return policy" in queries
    assert call.llm.requests[1].messages[-1].content == "Returns are free within 30 days."
    assert any(used.query == "return policy" for used in call.of(KnowledgeUsed))


async def test_a_builtin_not_enabled_is_not_run() -> None:
    call = make_call(
        utterances=("Press one.",),
        replies=[[ToolCall("call_1", "send_dtmf", '{"digits": "1"}')], "Okay."],
    )
    await run_call(call, hang_up_after(("say", 0.6), ("silence", 6)))
    audio = b"".join(sent.pcm16 for sent in call.transport.sent)
    assert detect_dtmf(audio, call.transport.sample_rate) == ""
    (answered,) = call.of(ToolAnswered)
    assert answered.result == "the tool 'send_dtmf' is not enabled on this call"
