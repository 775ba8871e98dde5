"""What the realtime vendors' contract tests share: the call's options, a tool, and
reading events or speaking on a connection as a phone call does."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from callwright.audio.codec import mulaw_encode
from callwright.providers.protocols import ToolSpec
from callwright.providers.realtime.protocol import (
    AppendAudio,
    RealtimeConnection,
    RealtimeEvent,
    RealtimeOptions,
)

__all__ = ["WEATHER", "bakery_options", "say_to", "until"]

WEATHER = ToolSpec(
    "get_weather",
    "The weather in a city.",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)


def bakery_options(voice: str) -> RealtimeOptions:
    """A phone call (μ-law 8 kHz) to a bakery's assistant with ``voice`` and WEATHER."""
    return RealtimeOptions(
        instructions="You answer the phone for a bakery.",
        voice=voice,
        audio="pcmu",
        silence_ms=400,
        language="en-US",
        tools=(WEATHER,),
        max_output_tokens=900,
    )


async def until(
    connection: RealtimeConnection, done: Callable[[RealtimeEvent], bool]
) -> list[RealtimeEvent]:
    """Events up to and including the first ``done`` says ends the wait (the timeout
    only catches a hang)."""
    seen: list[RealtimeEvent] = []
    async with asyncio.timeout(10):
        async for event in connection.events():
            seen.append(event)
            if done(event):
                return seen
    raise AssertionError(f"the events ended first: {seen}")


async def say_to(connection: RealtimeConnection, pcm16_8k: bytes) -> None:
    for start in range(0, len(pcm16_8k), 320):  # 20 ms frames, as Twilio sends them
        await connection.send(AppendAudio(mulaw_encode(pcm16_8k[start : start + 320])))
