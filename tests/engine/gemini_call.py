"""What the engine's Gemini Live realtime tests share: the bakery assistant's settings
and a realtime call on the loopback far end, started and set up against the fake."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from callwright.clock import MonotonicClock
from callwright.domain.assistants.schemas import AssistantIn
from callwright.engine.config import CallConfig
from callwright.engine.events import EndReason, SessionEvent
from callwright.engine.replies import Retriever
from callwright.providers.realtime.gemini import GeminiLive
from callwright.runtime.realtime import realtime_session
from callwright.transports.loopback import LoopbackTransport
from tests.vendor_fakes.gemini_live import GeminiLiveFake

__all__ = ["KEY", "MODEL", "GeminiCall", "bakery_document", "start_call"]

KEY = "gemini-test-key"
MODEL = "gemini-3.1-flash-live-preview"


def bakery_document(**settings: Any) -> dict[str, Any]:
    """A realtime assistant on Gemini Live that waits for the caller, with ``settings``."""
    return AssistantIn(
        name="Bakery",
        mode="realtime",
        realtime_settings={"provider": "gemini", "model": MODEL, "voice": "Kore"},
        first_message_mode="assistant-waits-for-user",
        idle_timeout=None,
        **settings,
    ).model_dump(mode="json")


@dataclass
class GeminiCall:
    """A running call: its far end, the session's events and the session's end."""

    transport: LoopbackTransport
    running: asyncio.Task[EndReason]
    events: list[SessionEvent] = field(default_factory=list)


async def start_call(
    fake: GeminiLiveFake, document: dict[str, Any], *, retrieve: Retriever | None = None
) -> GeminiCall:
    """Start ``document``'s realtime session on a phone line (8 kHz) against ``fake``;
    return once Gemini has the setup (await it within the test's hang timeout)."""
    clock = MonotonicClock()
    transport = LoopbackTransport(clock, sample_rate=8000)
    events: list[SessionEvent] = []
    session = realtime_session(
        CallConfig.from_settings(document),
        document,
        GeminiLive(KEY, base_url=fake.url),
        f"gemini:{MODEL}",
        transport,
        clock,
        events.append,
        on_end=None,
        custom_tools=(),
        run_custom_tools=None,
        retrieve=retrieve,
    )
    call = GeminiCall(transport, asyncio.create_task(session.run()), events)
    while not fake.sessions or not fake.last.setup:
        await transport.silence(0.1)
    return call
