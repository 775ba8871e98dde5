"""OpenAILLM against a fake of OpenAI's Chat Completions streaming protocol: what
reaches the wire, what comes back, and how every failure is reported."""

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
from callwright.providers.llm.openai import OpenAILLM
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
from tests.vendor_fakes.openai_chat import FakeOpenAI

KEY = "sk-test-0123456789"


@contextlib.asynccontextmanager
async def running(fake: FakeOpenAI, **options: Any) -> AsyncIterator[OpenAILLM]:
    """The adapter pointed at ``fake`` served on a loopback port."""
    options.setdefault("first_byte_timeout_s", HANG_S)
    async with serve(fake) as url:
        llm = OpenAILLM(options.pop("api_key", KEY), base_url=url + fake.prefix, **options)
        try:
            yield llm
        finally:
            await llm.aclose()


def as_llm(adapter: OpenAILLM) -> LLM:
    return adapter  # mypy checks that the adapter implements the protocol


async def test_streams_text_deltas_in_order_then_usage() -> None:
    fake = FakeOpenAI(KEY)
    fake.script(
        Reply(("We open ", "at nine ", "on Saturdays."), prompt_tokens=30, completion_tokens=9)
    )
    async with running(fake) as llm:
        events = await collect(as_llm(llm), LLMRequest(GREETING, model="gpt-4o-mini"))
    assert [e.text for e in events if isinstance(e, TextDelta)] == [
        "We open ",
        "at nine ",
        "on Saturdays.",
    ]
    assert_usage_last(events, 30, 9)
    sent = fake.last
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    assert sent.body["stream"] is True
    assert sent.body["stream_options"] == {"include_usage": True}
    assert sent.body["messages"] == [
        {"role": "system", "content": "You are the receptionist of a dental clinic."},
        {"role": "assistant", "content": "Hello, Bright Smiles dental, how can I help?"},
        {"role": "user", "content": "When are you open on Saturday?"},
    ]


async def test_a_200_that_is_not_a_stream_is_an_error_not_a_silent_answer() -> None:
    fake = FakeOpenAI(KEY, fault=Fault.NOT_A_STREAM)
    fake.script(Reply(("We open at nine.",)))
    async with running(fake) as llm:
        with pytest.raises(ProviderUnavailable) as caught:
            await collect(as_llm(llm), LLMRequest(GREETING, model="gpt-4o-mini"))
    assert fake.completed == 1  # the server did answer: with one JSON object
    assert caught.value.provider == "openai"
    assert "HTTP 200 (application/json) without a single stream event" in caught.value.message


async def test_every_setting_reaches_the_wire() -> None:
    fake = FakeOpenAI(KEY)
    request = LLMRequest(
        GREETING,
        model="llama-3.1-8b-instant",
        tools=(LOOKUP,),
        temperature=0.2,
        max_tokens=150,
        top_p=0.9,
        frequency_penalty=0.4,
        presence_penalty=-0.3,
        stop=("Goodbye", "END"),
        extra={"seed": 7, "user": "call-42", "temperature": 0.25},
    )
    async with running(fake) as llm:
        await collect(llm, request)
    body = fake.last.body
    assert body["model"] == "llama-3.1-8b-instant"
    # custom_config travels as extra body fields and wins over the settings.
    assert body["temperature"] == 0.25
    assert body["seed"] == 7
    assert body["user"] == "call-42"
    assert body["top_p"] == 0.9
    assert body["frequency_penalty"] == 0.4
    assert body["presence_penalty"] == -0.3
    assert body["stop"] == ["Goodbye", "END"]
    # A compatible server reads max_tokens (max_completion_tokens is OpenAI's own).
    assert body["max_tokens"] == 150
    assert "max_completion_tokens" not in body
    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "lookup_hours",
                "description": "Opening hours for a day of the week.",
                "parameters": {
                    "type": "object",
                    "properties": {"day": {"type": "string"}},
                    "required": ["day"],
                },
            },
        }
    ]


async def test_model_defaults_and_unset_settings_stay_off_the_wire() -> None:
    fake = FakeOpenAI(KEY)
    async with running(fake, default_model="qwen2.5:7b") as llm:
        await collect(llm, LLMRequest((ChatMessage("user", "Hi"),)))
    body = fake.last.body
    assert body["model"] == "qwen2.5:7b"
    for absent in ("temperature", "top_p", "max_tokens", "stop", "tools", "frequency_penalty"):
        assert absent not in body


async def test_openai_itself_gets_max_completion_tokens_and_reasoning_models_lose_sampling(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake = FakeOpenAI(KEY)
    async with serve(fake) as url:
        llm = OpenAILLM(KEY, first_byte_timeout_s=HANG_S)  # base_url None: OpenAI itself
        # Same adapter, bytes sent to the fake instead of api.openai.com.
        llm._client = llm._client.with_options(base_url=url + "/v1")
        try:
            settings = {
                "temperature": 0.5,
                "top_p": 1.0,
                "frequency_penalty": 0.1,
                "presence_penalty": 0.2,
                "max_tokens": 200,
            }
            stops = ("a", "b", "c", "d", "e")
            await collect(llm, LLMRequest(GREETING, model="gpt-4.1-mini", stop=stops, **settings))
            chat = fake.last.body
            with caplog.at_level(logging.WARNING, "callwright.providers.llm.openai"):
                await collect(llm, LLMRequest(GREETING, model="o4-mini", stop=stops, **settings))
            reasoning = fake.last.body
        finally:
            await llm.aclose()
    assert chat["max_completion_tokens"] == 200
    assert "max_tokens" not in chat
    assert chat["temperature"] == 0.5
    assert chat["stop"] == ["a", "b", "c", "d"]  # OpenAI takes four
    assert reasoning["max_completion_tokens"] == 200
    for dropped in ("temperature", "top_p", "frequency_penalty", "presence_penalty", "stop"):
        assert dropped not in reasoning
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("o4-mini" in message and "temperature" in message for message in warnings)


async def test_tool_call_round_trip() -> None:
    fake = FakeOpenAI(KEY)
    fake.script(
        Reply(
            ("Let me check.",),
            calls=(
                ScriptedCall("lookup_hours", {"day": "saturday"}, id="call_a1"),
                ScriptedCall("lookup_hours", {"day": "sunday"}, id="call_b2"),
            ),
        ),
        Reply(("Nine to one on Saturdays, closed on Sundays.",)),
    )
    async with running(fake) as llm:
        first = await collect(llm, LLMRequest(GREETING, tools=(LOOKUP,)))
        calls = calls_of(first)
        assert [(c.id, c.name, json.loads(c.arguments)) for c in calls] == [
            ("call_a1", "lookup_hours", {"day": "saturday"}),
            ("call_b2", "lookup_hours", {"day": "sunday"}),
        ]
        assert text_of(first) == "Let me check."
        assert_usage_last(first, 21, 8)
        history = (
            *GREETING,
            ChatMessage("assistant", "Let me check.", tool_calls=tuple(calls)),
            ChatMessage("tool", "9:00-13:00", tool_call_id="call_a1"),
            ChatMessage("tool", "closed", tool_call_id="call_b2"),
        )
        second = await collect(llm, LLMRequest(history, tools=(LOOKUP,)))
    assert text_of(second) == "Nine to one on Saturdays, closed on Sundays."
    messages = fake.last.body["messages"]
    assert messages[3] == {
        "role": "assistant",
        "content": "Let me check.",
        "tool_calls": [
            {
                "id": "call_a1",
                "type": "function",
                "function": {"name": "lookup_hours", "arguments": '{"day": "saturday"}'},
            },
            {
                "id": "call_b2",
                "type": "function",
                "function": {"name": "lookup_hours", "arguments": '{"day": "sunday"}'},
            },
        ],
    }
    assert messages[4:] == [
        {"role": "tool", "tool_call_id": "call_a1", "content": "9:00-13:00"},
        {"role": "tool", "tool_call_id": "call_b2", "content": "closed"},
    ]


async def test_a_compatible_server_under_its_own_name_and_prefix() -> None:
    fake = FakeOpenAI("gsk_groq", prefix="/openai/v1")
    fake.script(Reply(("Hi.",)))
    async with running(fake, api_key="gsk_groq", name="groq") as llm:
        assert llm.name == "groq"
        assert text_of(await collect(llm, LLMRequest(GREETING))) == "Hi."
        fake.fault = Fault.SERVER_ERROR
        with pytest.raises(ProviderUnavailable) as caught:
            await collect(llm, LLMRequest(GREETING))
    assert caught.value.provider == "groq"


async def test_a_local_server_without_a_key() -> None:
    fake = FakeOpenAI("none")  # what the adapter sends when no key is configured
    async with running(fake, api_key="", name="custom") as llm:
        assert text_of(await collect(llm, LLMRequest(GREETING))) == "OK."
    with pytest.raises(ProviderAuthError):
        OpenAILLM("")  # OpenAI itself always needs one


async def test_wrong_key_is_an_auth_error() -> None:
    fake = FakeOpenAI(KEY)
    async with running(fake, api_key="sk-wrong") as llm:
        with pytest.raises(ProviderAuthError) as caught:
            await collect(llm, LLMRequest(GREETING))
    assert "401" in str(caught.value)
    assert not caught.value.retryable


async def test_rate_limit_says_when_to_retry() -> None:
    fake = FakeOpenAI(KEY, fault=Fault.RATE_LIMITED, retry_after_s=12)
    async with running(fake) as llm:
        with pytest.raises(ProviderRateLimited) as caught:
            await collect(llm, LLMRequest(GREETING))
    assert caught.value.retry_after_s == 12
    assert len(fake.received) == 1  # the SDK's own retries are off


async def test_server_error_is_unavailable() -> None:
    fake = FakeOpenAI(KEY, fault=Fault.SERVER_ERROR)
    async with running(fake) as llm:
        with pytest.raises(ProviderUnavailable, match="500"):
            await collect(llm, LLMRequest(GREETING))
    assert len(fake.received) == 1


async def test_mid_stream_disconnect_is_unavailable() -> None:
    fake = FakeOpenAI(KEY, fault=Fault.DISCONNECT)
    fake.script(Reply(("never", "arrives")))
    async with running(fake) as llm:
        with pytest.raises(ProviderUnavailable, match="connection"):
            await collect(llm, LLMRequest(GREETING))


async def test_slow_first_byte_is_a_timeout_and_the_request_is_abandoned() -> None:
    fake = FakeOpenAI(KEY, fault=Fault.SLOW_FIRST_BYTE, slow_s=HANG_S * 3)
    async with running(fake, first_byte_timeout_s=FIRST_BYTE_TIMEOUT_S) as llm:
        with pytest.raises(ProviderTimeout, match="first byte"):
            await collect(llm, LLMRequest(GREETING))
        await wait_until_client_left(fake)


async def test_closing_the_stream_early_aborts_the_request() -> None:
    fake = FakeOpenAI(KEY, chunk_delay_s=0.2)
    fake.script(Reply(tuple(f"word{i} " for i in range(50))))
    async with running(fake) as llm:
        stream = llm.stream(LLMRequest(GREETING))
        assert await anext(stream) == TextDelta("word0 ")
        await stream.aclose()
        await wait_until_client_left(fake)
