"""The engine's reply path with real adapters on vendor fakes: when the primary
(OpenAI) fails with a 500, a 429, a mid-stream drop, no first byte at all or a 200
that is not a stream, the same turn is answered by the fallback (Anthropic), and the
turn's timing names it."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from callwright.clock import MonotonicClock
from callwright.domain.assistants.schemas import AssistantIn
from callwright.engine.config import CallConfig
from callwright.engine.events import TurnTiming
from callwright.engine.replies import ToolHooks, llm_reply
from callwright.providers.errors import ProviderRateLimited
from callwright.providers.llm.anthropic import AnthropicLLM
from callwright.providers.llm.openai import OpenAILLM
from callwright.providers.protocols import LLM, ChatMessage
from tests.providers.llm.contract import FIRST_BYTE_TIMEOUT_S, HANG_S, wait_until_client_left
from tests.vendor_fakes import Fault, Reply, serve
from tests.vendor_fakes.anthropic_messages import FakeAnthropic
from tests.vendor_fakes.openai_chat import FakeOpenAI

QUESTION = "When are you open on Saturday?"
ANSWER = ("We are open ", "from nine to one ", "on Saturdays. ", "See you then!")


async def reply(llms: tuple[LLM, ...], config: CallConfig, timing: TurnTiming) -> list[str]:
    history = [ChatMessage("system", config.llm.system_prompt), ChatMessage("user", QUESTION)]
    sentences = llm_reply(
        config,
        llms,
        history,
        MonotonicClock(),
        timing,
        ToolHooks(),
        first_token_timeout_s=FIRST_BYTE_TIMEOUT_S,
        filler_after_s=HANG_S,
        filler_counter=itertools.count(),
    )
    async with asyncio.timeout(HANG_S):
        return [sentence async for sentence in sentences]


@pytest.mark.parametrize(
    "fault",
    [
        Fault.SERVER_ERROR,
        Fault.RATE_LIMITED,
        Fault.DISCONNECT,
        Fault.SLOW_FIRST_BYTE,
        Fault.NOT_A_STREAM,
    ],
)
async def test_the_fallback_answers_the_same_turn(fault: Fault) -> None:
    config = CallConfig.from_settings(AssistantIn(name="fallback").model_dump(mode="json"))
    primary_fake = FakeOpenAI("sk-primary", fault=fault, slow_s=HANG_S * 3)
    primary_fake.script(Reply(("never heard",)))
    fallback_fake = FakeAnthropic("sk-ant-fallback")
    fallback_fake.script(Reply(ANSWER))
    timing = TurnTiming(turn=1)
    async with serve(primary_fake) as primary_url, serve(fallback_fake) as fallback_url:
        primary = OpenAILLM("sk-primary", base_url=f"{primary_url}/v1")
        fallback = AnthropicLLM("sk-ant-fallback", base_url=fallback_url)
        try:
            # The primary answers after HANG_S * 3 (SLOW_FIRST_BYTE): only the engine's
            # first-token deadline gets the fallback's answer; this bound is a hang guard.
            async with asyncio.timeout(HANG_S * 2):
                sentences = await reply((primary, fallback), config, timing)
            if fault is Fault.SLOW_FIRST_BYTE:  # the hung request was let go
                await wait_until_client_left(primary_fake)
        finally:
            await primary.aclose()
            await fallback.aclose()
    assert sentences == ["We are open from nine to one on Saturdays.", "See you then!"]
    assert timing.llm_provider == "anthropic"
    assert timing.llm_first_token_at is not None
    assert len(primary_fake.received) == 1
    assert len(fallback_fake.received) == 1
    sent = fallback_fake.last.body
    assert sent["system"] == config.llm.system_prompt
    assert sent["messages"][-1] == {"role": "user", "content": [{"type": "text", "text": QUESTION}]}
    assert sent["max_tokens"] == config.llm.max_tokens


async def test_when_every_provider_fails_the_last_error_is_raised() -> None:
    config = CallConfig.from_settings(AssistantIn(name="fallback").model_dump(mode="json"))
    primary_fake = FakeOpenAI("sk-primary", fault=Fault.SERVER_ERROR)
    fallback_fake = FakeAnthropic("sk-ant-fallback", fault=Fault.RATE_LIMITED, retry_after_s=9)
    timing = TurnTiming(turn=1)
    async with serve(primary_fake) as primary_url, serve(fallback_fake) as fallback_url:
        primary = OpenAILLM("sk-primary", base_url=f"{primary_url}/v1")
        fallback = AnthropicLLM("sk-ant-fallback", base_url=fallback_url)
        try:
            with pytest.raises(ProviderRateLimited) as caught:
                await reply((primary, fallback), config, timing)
        finally:
            await primary.aclose()
            await fallback.aclose()
    assert caught.value.provider == "anthropic"
    assert caught.value.retry_after_s == 9
    assert timing.llm_provider is None
    assert (len(primary_fake.received), len(fallback_fake.received)) == (1, 1)
