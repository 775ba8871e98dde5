"""``llm.gemini_wire`` fed what the generateContent fake never plays: a blocked prompt,
thought summaries, an error body wrapped in an array (the non-SSE form) or not JSON,
SSE events split over lines or not JSON objects, usage with thinking tokens, and tool
results that are not JSON objects. test_gemini.py covers the rest against the fake."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from callwright.providers.errors import (
    ProviderAuthError,
    ProviderRequestError,
    ProviderUnavailable,
)
from callwright.providers.llm.gemini_wire import (
    candidate_parts,
    error_of,
    part_event,
    request_body,
    sse_objects,
    usage_of,
)
from callwright.providers.protocols import (
    ChatMessage,
    LLMRequest,
    TextDelta,
    ToolCall,
    Usage,
)


async def lines_of(*lines: str) -> AsyncIterator[str]:
    for line in lines:
        yield line


async def objects(*lines: str) -> list[dict[str, Any]]:
    return [event async for event in sse_objects(lines_of(*lines))]


async def test_an_event_over_several_data_lines_is_one_object() -> None:
    events = await objects('data: {"a":', "data:1}", "", ": a comment", 'data: {"b": 2}')
    assert events == [{"a": 1}, {"b": 2}]  # the last one needs no blank line after it


@pytest.mark.parametrize("data", ["not json", "[1, 2]", '"text"'])
async def test_an_event_that_is_not_a_json_object_means_the_server_is_broken(
    data: str,
) -> None:
    with pytest.raises(ProviderUnavailable, match="malformed event"):
        await objects(f"data: {data}", "")


def test_a_blocked_prompt_is_a_request_error() -> None:
    chunk = {"promptFeedback": {"blockReason": "SAFETY"}}
    with pytest.raises(ProviderRequestError, match="prompt blocked: SAFETY"):
        candidate_parts(chunk)
    assert list(candidate_parts({"candidates": []})) == []  # nothing said, nothing blocked
    assert list(candidate_parts({"candidates": [{"finishReason": "STOP"}]})) == []


def test_thought_summaries_are_not_said_and_local_ids_are_made_up() -> None:
    assert part_event({"thought": True, "text": "Let me check the hours."}) is None
    assert part_event({"text": ""}) is None
    assert part_event({"inlineData": {}}) is None
    assert part_event({"text": "Hello"}) == TextDelta("Hello")
    call = part_event({"functionCall": {"name": "lookup_hours"}})
    assert isinstance(call, ToolCall)
    assert call.id.startswith("cw-call-")
    assert (call.name, call.arguments) == ("lookup_hours", "{}")


def test_usage_counts_thinking_as_completion() -> None:
    metadata = {"promptTokenCount": 40, "candidatesTokenCount": 7, "thoughtsTokenCount": 30}
    assert usage_of({"usageMetadata": metadata}) == Usage(40, 37)
    assert usage_of({"usageMetadata": {}}) is None
    assert usage_of({"candidates": []}) is None


def test_an_error_body_in_an_array_is_read_and_a_bare_body_falls_back_to_the_status() -> None:
    body = [
        {
            "error": {
                "code": 400,
                "status": "INVALID_ARGUMENT",
                "message": "API key not valid.",
                "details": [{"reason": "API_KEY_INVALID"}, "not a detail"],
            }
        }
    ]
    error = error_of(400, json.dumps(body), None)
    assert isinstance(error, ProviderAuthError)
    assert "INVALID_ARGUMENT: API key not valid." in str(error)
    assert isinstance(error_of(503, "upstream connect error", None), ProviderUnavailable)


def test_the_local_ids_and_plain_text_results_sent_back() -> None:
    local = ToolCall("cw-call-0123456789abcdef", "lookup_hours", "not json")
    request = LLMRequest(
        messages=(
            ChatMessage("assistant", None, tool_calls=(local,)),
            ChatMessage("tool", "closed on Sunday", tool_call_id=local.id),
            ChatMessage("tool", "[1, 2]", tool_call_id="unknown"),
        )
    )
    warnings: list[str] = []
    body = request_body(request, "gemini-2.5-flash", {}, warnings.append)
    opening, model_turn, results = body["contents"]
    assert opening["role"] == "user"
    assert model_turn == {
        "role": "model",
        "parts": [{"functionCall": {"name": "lookup_hours", "args": {}}}],  # no local id
    }
    assert results["parts"] == [
        {"functionResponse": {"name": "lookup_hours", "response": {"output": "closed on Sunday"}}},
        {"functionResponse": {"name": "", "response": {"output": [1, 2]}, "id": "unknown"}},
    ]
    assert warnings == []
