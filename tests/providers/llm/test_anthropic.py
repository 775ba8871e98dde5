"""AnthropicLLM against a fake of Anthropic's Messages streaming protocol: what
reaches the wire (and what must not), what comes back, and how failures are reported."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest

from callwright.providers.errors import (
    ProviderAuthError,
    ProviderRateLimited,
    ProviderTimeout,
    ProviderUnavailable,
)
from callwright.providers.llm.anthropic import AnthropicLLM
from callwright.providers.protocols import LLM, ChatMessage, LLMRequest, TextDelta
from tests.providers.llm.contract import (
    FIRST_BYTE_TIMEOUT_S,
    GREETING,
    HANG_S,
    LOOKUP,
    assert_usage_last,
    calls_of,
    collect,
    text_of,
    wait_until_client_left,
)
from tests.vendor_fakes import Fault, Reply, ScriptedCall, serve
from tests.vendor_fakes.anthropic_messages import FakeAnthropic

KEY = "sk-ant-test-0123456789"
OPENING = {
    "role": "user",
    "content": [{"type": "text", "text": "(The caller has joined the call.)"}],
}


@contextlib.asynccontextmanager
async def running(fake: FakeAnthropic, **options: Any) -> AsyncIterator[AnthropicLLM]:
    options.setdefault("first_byte_timeout_s", HANG_S)
    async with serve(fake) as url:
        llm = AnthropicLLM(options.pop("api_key", KEY), base_url=url, **options)
        try:
            yield llm
        finally:
            await llm.aclose()


def as_llm(adapter: AnthropicLLM) -> LLM:
    return adapter  # mypy checks that the adapter implements the protocol


async def test_streams_text_deltas_in_order_then_usage() -> None:
    fake = FakeAnthropic(KEY)
    fake.script(
        Reply(("We open ", "at nine ", "on Saturdays."), prompt_tokens=40, completion_tokens=11)
    )
    async with running(fake) as llm:
        events = await collect(as_llm(llm), LLMRequest(GREETING, model="claude-sonnet-4-6"))
    assert [e.text for e in events if isinstance(e, TextDelta)] == [
        "We open ",
        "at nine ",
        "on Saturdays.",
    ]
    assert_usage_last(events, 40, 11)
    sent = fake.last
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    assert sent.headers["anthropic-version"]
    assert sent.body["stream"] is True
    assert sent.body["model"] == "claude-sonnet-4-6"
    assert sent.body["system"] == "You are the receptionist of a dental clinic."
    # The API wants the caller first: the assistant's greeting gets an opening turn.
    assert sent.body["messages"] == [
        OPENING,
        {
            "role": "assistant",
            "content": [{"type": "text", "text": "Hello, Bright Smiles dental, how can I help?"}],
        },
        {"role": "user", "content": [{"type": "text", "text": "When are you open on Saturday?"}]},
    ]


async def test_every_supported_setting_reaches_the_wire() -> None:
    fake = FakeAnthropic(KEY)
    request = LLMRequest(
        GREETING,
        model="claude-haiku-4-5",
        tools=(LOOKUP,),
        max_tokens=150,
        stop=("Goodbye", "END"),
        extra={"metadata": {"user_id": "caller-7"}, "service_tier": "standard_only"},
    )
    async with running(fake) as llm:
        await collect(llm, request)
    body = fake.last.body
    assert body["max_tokens"] == 150
    assert body["stop_sequences"] == ["Goodbye", "END"]
    assert body["metadata"] == {"user_id": "caller-7"}
    assert body["service_tier"] == "standard_only"
    assert body["tools"] == [
        {
            "name": "lookup_hours",
            "description": "Opening hours for a day of the week.",
            "input_schema": {
                "type": "object",
                "properties": {"day": {"type": "string"}},
                "required": ["day"],
            },
        }
    ]


async def test_unsupported_settings_are_dropped_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake = FakeAnthropic(KEY)
    request = LLMRequest(
        (ChatMessage("user", "Hi"),),
        temperature=0.5,
        top_p=0.9,
        frequency_penalty=0.3,
        presence_penalty=0.1,
    )
    async with running(fake) as llm:
        with caplog.at_level(logging.WARNING, "callwright.providers.llm.anthropic"):
            # The fake refuses sampling settings as API version 2026-10-21 does.
            assert text_of(await collect(llm, request)) == "OK."
            await collect(llm, request)
    body = fake.last.body
    for dropped in ("temperature", "top_p", "frequency_penalty", "presence_penalty"):
        assert dropped not in body
    assert body["max_tokens"] == 1024  # required by the API: the default when unset
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1  # once per adapter, not every turn
    for name in ("temperature", "top_p", "frequency_penalty", "presence_penalty"):
        assert name in warnings[0]


async def test_conversation_shape_the_api_requires() -> None:
    fake = FakeAnthropic(KEY)
    history = (
        ChatMessage("system", "Be brief."),
        ChatMessage("system", "Speak English."),
        ChatMessage("user", "Hello?"),
        ChatMessage("user", "Are you there?"),
        ChatMessage("assistant", ""),  # an empty turn (interrupted before a word)
        ChatMessage("assistant", "Yes, I'm here."),
        ChatMessage("user", "Great."),
    )
    async with running(fake) as llm:
        await collect(llm, LLMRequest(history))
        body = fake.last.body
        assert body["system"] == "Be brief.\n\nSpeak English."
        assert body["messages"] == [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Hello?"},
                    {"type": "text", "text": "Are you there?"},
                ],
            },
            {"role": "assistant", "content": [{"type": "text", "text": "Yes, I'm here."}]},
            {"role": "user", "content": [{"type": "text", "text": "Great."}]},
        ]
        # The model is to open the call: only a system prompt so far.
        await collect(llm, LLMRequest((ChatMessage("system", "Greet the caller."),)))
        assert fake.last.body["messages"] == [OPENING]


async def test_tool_call_round_trip() -> None:
    fake = FakeAnthropic(KEY)
    fake.script(
        Reply(
            ("Let me check.",),
            calls=(
                ScriptedCall("lookup_hours", {"day": "saturday"}, id="toolu_01A"),
                ScriptedCall("lookup_hours", {"day": "sunday"}, id="toolu_01B"),
            ),
        ),
        Reply(("Nine to one on Saturdays, closed on Sundays.",)),
    )
    async with running(fake) as llm:
        first = await collect(llm, LLMRequest(GREETING, tools=(LOOKUP,)))
        calls = calls_of(first)
        assert [(c.id, c.name, json.loads(c.arguments)) for c in calls] == [
            ("toolu_01A", "lookup_hours", {"day": "saturday"}),
            ("toolu_01B", "lookup_hours", {"day": "sunday"}),
        ]
        assert text_of(first) == "Let me check."
        assert_usage_last(first, 21, 8)
        history = (
            *GREETING,
            ChatMessage("assistant", "Let me check.", tool_calls=tuple(calls)),
            ChatMessage("tool", "9:00-13:00", tool_call_id="toolu_01A"),
            ChatMessage("tool", "closed", tool_call_id="toolu_01B"),
        )
        second = await collect(llm, LLMRequest(history, tools=(LOOKUP,)))
    assert text_of(second) == "Nine to one on Saturdays, closed on Sundays."
    messages = fake.last.body["messages"]
    assert messages[-2:] == [
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Let me check."},
                {
                    "type": "tool_use",
                    "id": "toolu_01A",
                    "name": "lookup_hours",
                    "input": {"day": "saturday"},
                },
                {
                    "type": "tool_use",
                    "id": "toolu_01B",
                    "name": "lookup_hours",
                    "input": {"day": "sunday"},
                },
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_01A", "content": "9:00-13:00"},
                {"type": "tool_result", "tool_use_id": "toolu_01B", "content": "closed"},
            ],
        },
    ]


async def test_wrong_key_is_an_auth_error() -> None:
    fake = FakeAnthropic(KEY)
    async with running(fake, api_key="sk-ant-wrong") as llm:
        with pytest.raises(ProviderAuthError, match="401"):
            await collect(llm, LLMRequest(GREETING))
    with pytest.raises(ProviderAuthError):
        AnthropicLLM("")


async def test_rate_limit_says_when_to_retry() -> None:
    fake = FakeAnthropic(KEY, fault=Fault.RATE_LIMITED, retry_after_s=20)
    async with running(fake) as llm:
        with pytest.raises(ProviderRateLimited) as caught:
            await collect(llm, LLMRequest(GREETING))
    assert caught.value.retry_after_s == 20
    assert len(fake.received) == 1  # the SDK's own retries are off


async def test_server_error_is_unavailable() -> None:
    fake = FakeAnthropic(KEY, fault=Fault.SERVER_ERROR)
    async with running(fake) as llm:
        with pytest.raises(ProviderUnavailable, match="500"):
            await collect(llm, LLMRequest(GREETING))
    assert len(fake.received) == 1


async def test_overloaded_error_event_mid_stream_is_unavailable() -> None:
    fake = FakeAnthropic(KEY, overloaded_mid_stream=True)
    fake.script(Reply(("We open ", "at nine.")))
    async with running(fake) as llm:
        stream = llm.stream(LLMRequest(GREETING))
        try:
            assert await anext(stream) == TextDelta("We open ")
            with pytest.raises(ProviderUnavailable, match="529"):
                await anext(stream)
        finally:
            await stream.aclose()


async def test_mid_stream_disconnect_is_unavailable() -> None:
    fake = FakeAnthropic(KEY, fault=Fault.DISCONNECT)
    async with running(fake) as llm:
        with pytest.raises(ProviderUnavailable, match="connection"):
            await collect(llm, LLMRequest(GREETING))


async def test_slow_first_byte_is_a_timeout_and_the_request_is_abandoned() -> None:
    fake = FakeAnthropic(KEY, fault=Fault.SLOW_FIRST_BYTE, slow_s=HANG_S * 3)
    async with running(fake, first_byte_timeout_s=FIRST_BYTE_TIMEOUT_S) as llm:
        with pytest.raises(ProviderTimeout, match="first byte"):
            await collect(llm, LLMRequest(GREETING))
        await wait_until_client_left(fake)


async def test_closing_the_stream_early_aborts_the_request() -> None:
    fake = FakeAnthropic(KEY, chunk_delay_s=0.1)
    fake.script(Reply(tuple(f"word{i} " for i in range(50))))
    async with running(fake) as llm:
        stream = llm.stream(LLMRequest(GREETING))
        assert await anext(stream) == TextDelta("word0 ")
        await stream.aclose()
        await wait_until_client_left(fake)
