"""A browser call's live transcript: session events become the page's messages, sent
in order, the call's end last; a page that stops reading never stalls the session."""

from __future__ import annotations

import asyncio
import json
from typing import Any, cast

from starlette.websockets import WebSocket, WebSocketState

from callwright.engine.events import (
    AssistantMessage,
    CallEnded,
    EndReason,
    SpeechStarted,
    TranscriptPartial,
    UserMessage,
)
from callwright.runtime.live_transcript import live_transcript
from callwright.transports.browser import BrowserTransport

OUTBOX_LINES = 128  # what the browser transport holds for a page that is not reading


class _Page:
    """The page's end of the WebSocket: records what it is sent."""

    application_state = WebSocketState.CONNECTED

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.changed = asyncio.Event()

    async def send_text(self, text: str) -> None:
        self.sent.append(json.loads(text))
        self.changed.set()

    async def wait_for(self, count: int) -> None:
        while len(self.sent) < count:
            self.changed.clear()
            await self.changed.wait()


def _browser() -> tuple[BrowserTransport, _Page]:
    page = _Page()
    return BrowserTransport(cast(WebSocket, page)), page


async def test_events_become_transcript_lines_and_the_end_is_sent_last() -> None:
    transport, page = _browser()
    show = live_transcript(transport)
    show(SpeechStarted(1.0))
    show(TranscriptPartial("Do you", 1.2))
    show(UserMessage("Do you deliver?", 1.5))
    show(AssistantMessage("", "", False, 1.8))  # nothing was said: nothing to show
    show(AssistantMessage("Yes, we", "Yes, we deliver.", True, 2.0))
    show(CallEnded(EndReason.CUSTOMER_ENDED_CALL, 3.0))
    show(UserMessage("after the end", 3.1))

    await transport.pump_transcripts()

    assert page.sent == [
        {"type": "transcript", "role": "user", "text": "Do you", "final": False},
        {"type": "transcript", "role": "user", "text": "Do you deliver?", "final": True},
        {
            "type": "transcript",
            "role": "assistant",
            "text": "Yes, we",
            "final": True,
            "interrupted": True,
        },
        {"type": "call-ended", "reason": "customer-ended-call"},
    ]


async def test_a_page_that_stops_reading_loses_lines_without_blocking() -> None:
    transport, page = _browser()
    show = live_transcript(transport)
    for index in range(500):  # nothing awaited: a full outbox must not block or raise
        show(UserMessage(f"line {index}", float(index)))

    async with asyncio.TaskGroup() as group:
        pump = group.create_task(transport.pump_transcripts())
        await page.wait_for(OUTBOX_LINES)
        show(CallEnded(EndReason.CUSTOMER_ENDED_CALL, 600.0))
    assert pump.done()

    texts = [message.get("text") for message in page.sent[:-1]]
    assert texts == [f"line {index}" for index in range(OUTBOX_LINES)]
    assert page.sent[-1] == {"type": "call-ended", "reason": "customer-ended-call"}
