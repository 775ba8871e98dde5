"""OpenAI Realtime (the GA interface, decision 018) as a ``RealtimeModel``: one
WebSocket per call to ``<base_url>/realtime?model=<model>``, ``Authorization: Bearer``.

Set-up is one ``session.update`` (``openai_wire.session_config``: instructions, audio
formats, input transcription, turn detection with the session creating every response
itself, tools, voice), answered by ``session.updated``; an ``error`` instead is the
vendor refusing the configuration (the ``ProviderError`` ``openai_wire.error_of``
says). Commands map one to one: ``AppendAudio`` → ``input_audio_buffer.append``,
``Respond`` → ``response.create``, ``CancelResponse`` → ``response.cancel``,
``Truncate`` → ``conversation.item.truncate``, ``ToolOutput`` →
``conversation.item.create`` (``function_call_output``), ``CallerText`` → a
``conversation.item.create`` user message. Server events the session does not need
(``response.output_item.added``, ``conversation.item.done``, rate limits…) are skipped;
an ``error`` event while the session runs is a ``RealtimeNotice`` (the API says most
are recoverable), unless the socket closes after it: then it ends ``events()`` as the
``ProviderError`` it names.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import AsyncIterator
from typing import Any, Final

import websockets
from websockets.asyncio.client import ClientConnection

from callwright.providers.catalog import Connection
from callwright.providers.common import CONNECT_TIMEOUT_S, connect_websocket, websocket_url
from callwright.providers.errors import ProviderError, ProviderRequestError, ProviderUnavailable
from callwright.providers.realtime.openai_wire import (
    PROVIDER,
    error_of,
    parse_event,
    session_config,
)
from callwright.providers.realtime.protocol import (
    AppendAudio,
    AudioOut,
    CallerSpeechStarted,
    CallerSpeechStopped,
    CallerText,
    CallerTranscript,
    CallerTurnCommitted,
    CancelResponse,
    RealtimeCommand,
    RealtimeEvent,
    RealtimeNotice,
    RealtimeOptions,
    Respond,
    ResponseDone,
    ToolCallRequested,
    ToolOutput,
    TranscriptOut,
    Truncate,
)
from callwright.providers.realtime.setup import set_up_or_close
from callwright.security.outbound import OutboundPolicy

__all__ = ["OpenAIRealtime", "OpenAIRealtimeConnection", "create", "session_config"]

logger = logging.getLogger(__name__)

_DEFAULT_BASE_URL: Final = "https://api.openai.com/v1"
_DEFAULT_MODEL: Final = "gpt-realtime"
_SET_UP_EVENTS: Final = 16  # events read while waiting for session.updated


class OpenAIRealtime:
    """OpenAI's Realtime API for calls. ``base_url``: OpenAI's (default
    ``https://api.openai.com/v1``), a compatible server or a fake; ``outbound``: the
    policy a user-given endpoint is reached through."""

    name = PROVIDER

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str | None = None,
        model: str | None = None,
        outbound: OutboundPolicy | None = None,
        open_timeout_s: float = CONNECT_TIMEOUT_S,
    ) -> None:
        if not api_key:
            raise ValueError("an OpenAI API key is required")
        self._api_key = api_key
        self._base_url = base_url or _DEFAULT_BASE_URL
        websocket_url(self._base_url, "/realtime")  # a malformed endpoint fails here
        self.model = model or _DEFAULT_MODEL
        self._outbound = outbound
        self._open_timeout_s = open_timeout_s

    async def connect(self, options: RealtimeOptions) -> OpenAIRealtimeConnection:
        model = options.model or self.model
        url = websocket_url(self._base_url, "/realtime", [("model", model)])
        websocket = await connect_websocket(
            PROVIDER,
            url,
            {"Authorization": f"Bearer {self._api_key}"},
            open_timeout_s=self._open_timeout_s,
            outbound=self._outbound,
        )
        connection = OpenAIRealtimeConnection(websocket)
        await set_up_or_close(
            connection,
            connection.set_up(options),
            provider=PROVIDER,
            timeout_s=self._open_timeout_s,
            unacknowledged="the session set-up was not acknowledged",
        )
        return connection


class OpenAIRealtimeConnection:
    """One call's Realtime session (see the module docstring)."""

    def __init__(self, websocket: ClientConnection) -> None:
        self._websocket = websocket
        self._closing = False
        self._last_error: ProviderError | None = None

    async def set_up(self, options: RealtimeOptions) -> None:
        """Send the configuration; return once the server has taken it."""
        await self._send({"type": "session.update", "session": session_config(options)})
        for _ in range(_SET_UP_EVENTS):
            event = await self._receive()
            kind = event.get("type")
            if kind == "session.updated":
                return
            if kind == "error":
                raise error_of(event.get("error"))
        raise ProviderRequestError(PROVIDER, "the session.update was never acknowledged")

    async def _receive(self) -> dict[str, Any]:
        try:
            raw = await self._websocket.recv()
        except websockets.ConnectionClosed as exc:
            raise self._last_error or ProviderUnavailable(
                PROVIDER, f"connection closed: {exc}"
            ) from exc
        return parse_event(raw)

    async def send(self, command: RealtimeCommand) -> None:
        if isinstance(command, AppendAudio):
            audio = base64.b64encode(command.audio).decode("ascii")
            await self._send({"type": "input_audio_buffer.append", "audio": audio})
        elif isinstance(command, Respond):
            message: dict[str, Any] = {"type": "response.create"}
            if command.instructions:
                message["response"] = {"instructions": command.instructions}
            await self._send(message)
        elif isinstance(command, CancelResponse):
            await self._send({"type": "response.cancel"})
        elif isinstance(command, Truncate):
            await self._send(
                {
                    "type": "conversation.item.truncate",
                    "item_id": command.item_id,
                    "content_index": 0,
                    "audio_end_ms": command.audio_end_ms,
                }
            )
        elif isinstance(command, CallerText):
            content = [{"type": "input_text", "text": command.text}]
            item = {"type": "message", "role": "user", "content": content}
            await self._send({"type": "conversation.item.create", "item": item})
        elif isinstance(command, ToolOutput):
            item = {"type": "function_call_output", "call_id": command.call_id}
            await self._send(
                {"type": "conversation.item.create", "item": item | {"output": command.output}}
            )

    async def _send(self, message: dict[str, Any]) -> None:
        try:
            await self._websocket.send(json.dumps(message, separators=(",", ":")))
        except websockets.ConnectionClosed as exc:
            raise self._last_error or ProviderUnavailable(
                PROVIDER, f"connection closed: {exc}"
            ) from exc

    async def events(self) -> AsyncIterator[RealtimeEvent]:
        try:
            async for raw in self._websocket:
                event = self._event(parse_event(raw))
                if event is not None:
                    yield event
        except websockets.ConnectionClosedError as exc:
            if not self._closing:
                raise self._last_error or ProviderUnavailable(
                    PROVIDER, f"connection dropped: {exc}"
                ) from exc
            return
        if not self._closing:
            raise self._last_error or ProviderUnavailable(PROVIDER, "the session was closed")

    def _event(self, event: dict[str, Any]) -> RealtimeEvent | None:
        kind = event.get("type")
        if kind != "error":
            self._last_error = None  # only an error the socket closes after ends the call
        if kind == "response.output_audio.delta":
            try:
                audio = base64.b64decode(str(event.get("delta", "")), validate=True)
            except (binascii.Error, ValueError):
                return RealtimeNotice("an audio delta was not base64")
            return AudioOut(str(event.get("item_id")), audio)
        if kind == "response.output_audio_transcript.delta":
            return TranscriptOut(str(event.get("item_id")), str(event.get("delta", "")))
        if kind == "input_audio_buffer.speech_started":
            return CallerSpeechStarted(int(event.get("audio_start_ms") or 0))
        if kind == "input_audio_buffer.speech_stopped":
            return CallerSpeechStopped(int(event.get("audio_end_ms") or 0))
        if kind == "input_audio_buffer.committed":
            return CallerTurnCommitted(str(event.get("item_id")))
        if kind == "conversation.item.input_audio_transcription.completed":
            return CallerTranscript(str(event.get("item_id")), str(event.get("transcript", "")))
        if kind == "response.function_call_arguments.done":
            return ToolCallRequested(
                str(event.get("call_id")), str(event.get("name")), str(event.get("arguments", ""))
            )
        if kind == "response.done":
            response = event.get("response") or {}
            usage = response.get("usage") or {}
            return ResponseDone(
                str(response.get("status") or "completed"),
                int(usage.get("input_tokens") or 0),
                int(usage.get("output_tokens") or 0),
            )
        if kind == "error":
            error = error_of(event.get("error"))
            self._last_error = error
            logger.warning("OpenAI Realtime reported an error: %s", error)
            return RealtimeNotice(str(error))
        return None

    async def aclose(self) -> None:
        self._closing = True
        await self._websocket.close()


def create(c: Connection) -> OpenAIRealtime:
    """The catalog's factory."""
    return OpenAIRealtime(c.api_key, base_url=c.base_url, model=c.model, outbound=c.outbound)
