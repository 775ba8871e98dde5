"""GeminiLLM against a fake of Gemini's streamGenerateContent SSE protocol: what
reaches the wire, what comes back, and how google.rpc errors are reported."""

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
from callwright.providers.llm.gemini import GeminiLLM
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
from tests.vendor_fakes.gemini import FakeGemini

KEY = "AIzaSy-test-0123456789"
OPENING = {"role": "user", "parts": [{"text": "(The caller has joined the call.)"}]}


@contextlib.asynccontextmanager
async def running(fake: FakeGemini, **options: Any) -> AsyncIterator[GeminiLLM]:
    options.setdefault("first_byte_timeout_s", HANG_S)
    async with serve(fake) as url:
        llm = GeminiLLM(options.pop("api_key", KEY), base_url=url, **options)
        try:
            yield llm
        finally:
            await llm.aclose()


def as_llm(adapter: GeminiLLM) -> LLM:
    return adapter  # mypy checks that the adapter implements the protocol


async def test_streams_text_deltas_in_order_then_usage() -> None:
    fake = FakeGemini(KEY)
    fake.script(
        Reply(("We open ", "at nine ", "on Saturdays."), prompt_tokens=33, completion_tokens=7)
    )
    async with running(fake) as llm:
        events = await collect(as_llm(llm), LLMRequest(GREETING, model="gemini-2.5-flash"))
    assert [e.text for e in events if isinstance(e, TextDelta)] == [
        "We open ",
        "at nine ",
        "on Saturdays.",
    ]
    assert_usage_last(events, 33, 7)
    sent = fake.last
    assert sent.path == "/v1beta/models/gemini-2.5-flash:streamGenerateContent"
    assert sent.query == {"alt": "sse"}
    assert sent.headers["x-goog-api-key"] == KEY
    assert sent.body["systemInstruction"] == {
        "parts": [{"text": "You are the receptionist of a dental clinic."}]
    }
    assert sent.body["contents"] == [
        OPENING,
        {"role": "model", "parts": [{"text": "Hello, Bright Smiles dental, how can I help?"}]},
        {"role": "user", "parts": [{"text": "When are you open on Saturday?"}]},
    ]


async def test_every_setting_reaches_the_wire() -> None:
    fake = FakeGemini(KEY)
    request = LLMRequest(
        GREETING,
        model="gemini-2.0-flash",
        tools=(LOOKUP,),
        temperature=0.2,
        max_tokens=150,
        top_p=0.9,
        frequency_penalty=0.4,
        presence_penalty=-0.3,
        stop=("Goodbye", "END"),
        extra={
            "generationConfig": {"topK": 20, "seed": 7},
            "safetySettings": [
                {"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_ONLY_HIGH"}
            ],
        },
    )
    async with running(fake) as llm:
        await collect(llm, request)
    body = fake.last.body
    assert body["generationConfig"] == {
        "temperature": 0.2,
        "topP": 0.9,
        "maxOutputTokens": 150,
        "presencePenalty": -0.3,
        "frequencyPenalty": 0.4,
        "stopSequences": ["Goodbye", "END"],
        "topK": 20,
        "seed": 7,
    }
    assert body["safetySettings"] == [
        {"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_ONLY_HIGH"}
    ]
    assert body["tools"] == [
        {
            "functionDeclarations": [
                {
                    "name": "lookup_hours",
                    "description": "Opening hours for a day of the week.",
                    "parametersJsonSchema": {
                        "type": "object",
                        "properties": {"day": {"type": "string"}},
                        "required": ["day"],
                    },
                }
            ]
        }
    ]


async def test_default_model_and_unset_settings() -> None:
    fake = FakeGemini(KEY)
    async with running(fake, default_model="gemini-2.5-flash-lite") as llm:
        await collect(llm, LLMRequest((ChatMessage("user", "Hi"),), frequency_penalty=0.0))
        assert fake.last.path == "/v1beta/models/gemini-2.5-flash-lite:streamGenerateContent"
        assert "generationConfig" not in fake.last.body  # a zero penalty is the default
        await collect(llm, LLMRequest((ChatMessage("user", "Hi"),), model="models/gemini-3-pro"))
        assert fake.last.path == "/v1beta/models/gemini-3-pro:streamGenerateContent"


async def test_unsupported_settings_are_dropped_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake = FakeGemini(KEY)
    request = LLMRequest(
        GREETING,
        model="gemini-2.5-flash",
        temperature=0.5,
        presence_penalty=0.2,
        frequency_penalty=0.1,
        stop=("1", "2", "3", "4", "5", "6"),
    )
    async with running(fake) as llm:
        with caplog.at_level(logging.WARNING, "callwright.providers.llm.gemini"):
            # The fake refuses penalties on 2.5 models, as the API does.
            assert text_of(await collect(llm, request)) == "OK."
    config = fake.last.body["generationConfig"]
    assert config == {"temperature": 0.5, "stopSequences": ["1", "2", "3", "4", "5"]}
    warnings = " ".join(r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    assert "presencePenalty" in warnings
    assert "frequencyPenalty" in warnings
    assert "stop sequences" in warnings


async def test_tool_call_round_trip_with_thought_signature() -> None:
    fake = FakeGemini(KEY)
    fake.script(
        Reply(
            ("Let me check.",),
            calls=(
                ScriptedCall("lookup_hours", {"day": "saturday"}),
                ScriptedCall("lookup_hours", {"day": "sunday"}),
            ),
        ),
        Reply(("Nine to one on Saturdays, closed on Sundays.",)),
    )
    async with running(fake) as llm:
        first = await collect(llm, LLMRequest(GREETING, tools=(LOOKUP,)))
        calls = calls_of(first)
        assert [(c.name, json.loads(c.arguments)) for c in calls] == [
            ("lookup_hours", {"day": "saturday"}),
            ("lookup_hours", {"day": "sunday"}),
        ]
        assert len({call.id for call in calls}) == 2  # Gemini sent none: made up here
        assert text_of(first) == "Let me check."
        assert_usage_last(first, 21, 8)
        history = (
            *GREETING,
            ChatMessage("assistant", "Let me check.", tool_calls=tuple(calls)),
            ChatMessage("tool", "9:00-13:00", tool_call_id=calls[0].id),
            ChatMessage("tool", '{"open": false}', tool_call_id=calls[1].id),
        )
        # The fake refuses the calls back without their thought signature (Gemini 3).
        second = await collect(llm, LLMRequest(history, tools=(LOOKUP,)))
    assert text_of(second) == "Nine to one on Saturdays, closed on Sundays."
    contents = fake.last.body["contents"]
    assert contents[-2:] == [
        {
            "role": "model",
            "parts": [
                {"text": "Let me check."},
                {
                    "functionCall": {"name": "lookup_hours", "args": {"day": "saturday"}},
                    "thoughtSignature": fake.signatures[
                        fake.call_key("lookup_hours", {"day": "saturday"})
                    ],
                },
                {"functionCall": {"name": "lookup_hours", "args": {"day": "sunday"}}},
            ],
        },
        {
            "role": "user",
            "parts": [
                {
                    "functionResponse": {
                        "name": "lookup_hours",
                        "response": {"output": "9:00-13:00"},
                    }
                },
                {"functionResponse": {"name": "lookup_hours", "response": {"open": False}}},
            ],
        },
    ]


async def test_function_call_ids_from_gemini_are_sent_back() -> None:
    fake = FakeGemini(KEY)
    fake.script(Reply(calls=(ScriptedCall("lookup_hours", {"day": "monday"}, id="fc-7"),)))
    async with running(fake) as llm:
        (call,) = calls_of(await collect(llm, LLMRequest(GREETING, tools=(LOOKUP,))))
        assert call.id == "fc-7"
        history = (
            *GREETING,
            ChatMessage("assistant", None, tool_calls=(call,)),
            ChatMessage("tool", "8:00-18:00", tool_call_id="fc-7"),
        )
        await collect(llm, LLMRequest(history, tools=(LOOKUP,)))
    model_turn, results = fake.last.body["contents"][-2:]
    assert model_turn["parts"] == [
        {
            "functionCall": {"name": "lookup_hours", "args": {"day": "monday"}, "id": "fc-7"},
            "thoughtSignature": fake.signatures["fc-7"],
        }
    ]
    assert results["parts"] == [
        {
            "functionResponse": {
                "name": "lookup_hours",
                "response": {"output": "8:00-18:00"},
                "id": "fc-7",
            }
        }
    ]


async def test_invalid_key_is_an_auth_error_despite_its_400() -> None:
    fake = FakeGemini(KEY)
    async with running(fake, api_key="AIzaSy-wrong") as llm:
        with pytest.raises(ProviderAuthError, match="API key not valid"):
            await collect(llm, LLMRequest(GREETING))
    with pytest.raises(ProviderAuthError):
        GeminiLLM("")


async def test_rate_limit_retry_delay_comes_from_retry_info() -> None:
    fake = FakeGemini(KEY, fault=Fault.RATE_LIMITED, retry_after_s=37)
    async with running(fake) as llm:
        with pytest.raises(ProviderRateLimited) as caught:
            await collect(llm, LLMRequest(GREETING))
    assert caught.value.retry_after_s == 37


async def test_server_error_is_unavailable() -> None:
    fake = FakeGemini(KEY, fault=Fault.SERVER_ERROR)
    async with running(fake) as llm:
        with pytest.raises(ProviderUnavailable, match="500"):
            await collect(llm, LLMRequest(GREETING))


async def test_mid_stream_disconnect_is_unavailable() -> None:
    fake = FakeGemini(KEY, fault=Fault.DISCONNECT)
    fake.script(Reply(("We open ", "at nine.")))
    async with running(fake) as llm:
        stream = llm.stream(LLMRequest(GREETING))
        try:
            assert await anext(stream) == TextDelta("We open ")
            with pytest.raises(ProviderUnavailable, match="peer closed"):
                await anext(stream)
        finally:
            await stream.aclose()


async def test_slow_first_byte_is_a_timeout_and_the_request_is_abandoned() -> None:
    fake = FakeGemini(KEY, fault=Fault.SLOW_FIRST_BYTE, slow_s=HANG_S * 3)
    async with running(fake, first_byte_timeout_s=FIRST_BYTE_TIMEOUT_S) as llm:
        with pytest.raises(ProviderTimeout, match="first byte"):
            await collect(llm, LLMRequest(GREETING))
        await wait_until_client_left(fake)


async def test_closing_the_stream_early_aborts_the_request() -> None:
    fake = FakeGemini(KEY, chunk_delay_s=0.2)
    fake.script(Reply(tuple(f"word{i} " for i in range(50))))
    async with running(fake) as llm:
        stream = llm.stream(LLMRequest(GREETING))
        assert await anext(stream) == TextDelta("word0 ")
        await stream.aclose()
        await wait_until_client_left(fake)
