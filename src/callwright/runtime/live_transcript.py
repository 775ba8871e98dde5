"""The live transcript of a browser call: session events shown on the caller's page.

The engine's events are turned here into the browser transport's own messages, so the
transport knows nothing of the engine and the engine nothing of pages.
"""

from __future__ import annotations

from callwright.engine.events import (
    AssistantMessage,
    CallEnded,
    EventSink,
    SessionEvent,
    TranscriptPartial,
    UserMessage,
)
from callwright.transports.browser import (
    BrowserTransport,
    CallEndedNotice,
    PageMessage,
    TranscriptLine,
)

__all__ = ["live_transcript", "page_message"]


def page_message(event: SessionEvent) -> PageMessage | None:
    """What the page shows for ``event``, or None for events it does not show."""
    if isinstance(event, TranscriptPartial):
        return TranscriptLine("user", event.text, final=False)
    if isinstance(event, UserMessage):
        return TranscriptLine("user", event.text, final=True)
    if isinstance(event, AssistantMessage) and event.text:
        return TranscriptLine("assistant", event.text, final=True, interrupted=event.interrupted)
    if isinstance(event, CallEnded):
        return CallEndedNotice(event.reason.value)
    return None


def live_transcript(transport: BrowserTransport) -> EventSink:
    """An event sink that shows the call's transcript on the page behind ``transport``;
    it never blocks the session (the transport drops lines a stalled page cannot take)."""

    def show(event: SessionEvent) -> None:
        message = page_message(event)
        if message is not None:
            transport.show(message)

    return show
