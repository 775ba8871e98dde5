"""Helpers shared by the LLM adapter contract tests."""

from __future__ import annotations

import asyncio

from callwright.providers.protocols import (
    LLM,
    ChatMessage,
    LLMEvent,
    LLMRequest,
    TextDelta,
    ToolCall,
    ToolSpec,
    Usage,
)
from tests.vendor_fakes import VendorFake

HANG_S = 10.0  # a generous bound: only a hang takes this long
# Short enough for a fast test, long enough for a loopback connection and request to
# reach the fake on a busy machine (else there would be no request to abandon).
FIRST_BYTE_TIMEOUT_S = 1.5

GREETING = (
    ChatMessage("system", "You are the receptionist of a dental clinic."),
    ChatMessage("assistant", "Hello, Bright Smiles dental, how can I help?"),
    ChatMessage("user", "When are you open on Saturday?"),
)

LOOKUP = ToolSpec(
    "lookup_hours",
    "Opening hours for a day of the week.",
    {"type": "object", "properties": {"day": {"type": "string"}}, "required": ["day"]},
)


async def collect(llm: LLM, request: LLMRequest) -> list[LLMEvent]:
    async with asyncio.timeout(HANG_S):
        return [event async for event in llm.stream(request)]


def text_of(events: list[LLMEvent]) -> str:
    return "".join(event.text for event in events if isinstance(event, TextDelta))


def calls_of(events: list[LLMEvent]) -> list[ToolCall]:
    return [event for event in events if isinstance(event, ToolCall)]


def assert_usage_last(events: list[LLMEvent], prompt: int, completion: int) -> None:
    assert events[-1] == Usage(prompt, completion)
    assert not any(isinstance(event, Usage) for event in events[:-1])


async def wait_until_client_left(fake: VendorFake) -> None:
    """The fake saw the client disconnect before the response ended."""
    async with asyncio.timeout(HANG_S):
        await fake.client_left.wait()
    assert fake.aborted == 1
    assert fake.completed == 0
