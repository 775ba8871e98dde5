"""OpenAI Realtime (the GA interface, decision 018) as a ``RealtimeModel``: one
WebSocket per call to ``<base_url>/realtime?model=<model>``, ``Authorization: Bearer``.

Set-up is one ``session.update`` (instructions, audio formats, input transcription,
turn detection with the session creating every response itself, tools, voice),
answered by ``session.updated``; an ``error`` instead is the vendor refusing the
configuration (a ``ProviderError``). Commands map one to one: ``AppendAudio`` →
``input_audio_buffer.append``, ``Respond`` → ``response.create``, ``CancelResponse`` →
``response.cancel``, ``Truncate`` → ``conversation.item.truncate``, ``ToolOutput`` →
``conversation.item.create`` (``function_call_output``), ``CallerText`` → a
``conversation.item.create`` user message. Server events the session
does not need (``response.output_item.added``, ``conversation.item.done``, rate limits…)
are skipped; an ``error`` event while the session runs is a ``RealtimeNotice`` (the API
says most are recoverable), unless the socket closes after it: then it ends
``events()`` as the ``ProviderError`` it names.
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
from callwright.providers.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderRateLimited,
    ProviderRequestError,
    ProviderUnavailable,
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

_PROVIDER: Final = "openai"
_DEFAULT_BASE_URL: Final = "https://api.openai.com/v1"
_DEFAULT_MODEL: Final = "gpt-realtime"
_DEFAULT_VOICE: Final = "marin"
_SET_UP_EVENTS: Final = 16  # events read while waiting for session.updated


def session_config(options: RealtimeOptions) -> dict[str, Any]:
    """The ``session`` object of the set-up's ``session.update``."""
    audio_format: dict[str, Any] = (
        {"type": "audio/pcmu"} if options.audio == "pcmu" else {"type": "audio/pcm", "rate": 24000}
    )
    turn: dict[str, Any] = {
        "type": options.turn_detection,
        # The session decides when to answer and when caller speech interrupts.
        "create_response": False,
        "interrupt_response": False,
    }
    if options.turn_detection == "server_vad":
        turn["silence_duration_ms"] = options.silence_ms
        turn["prefix_padding_ms"] = options.prefix_padding_ms
    else:
        turn["eagerness"] = options.eagerness
    audio_input: dict[str, Any] = {"format": audio_format, "turn_detection": turn}
    if options.transcription_model:
        transcription = {"model": options.transcription_model}
        if options.language:
            transcription["language"] = options.language.split("-")[0].lower()
        if options.transcription_prompt:
            transcription["prompt"] = options.transcription_prompt
        audio_input["transcription"] = transcription
    if options.noise_reduction:
        audio_input["noise_reduction"] = {"type": options.noise_reduction}
    session: dict[str, Any] = {
        "type": "realtime",
        "output_modalities": ["audio"],
        "audio": {
            "input": audio_input,
            "output": {"format": audio_format, "voice": options.voice or _DEFAULT_VOICE},
        },
        "tools": [
            {
                "type": "function",
                "name": tool.name,
                "description": tool.description,
                "parameters": dict(tool.parameters),
            }
            for tool in options.tools
        ],
        "tool_choice": "auto",
    }
    if options.instructions:
        session["instructions"] = options.instructions
    if options.max_output_tokens:
        session["max_output_tokens"] = min(options.max_output_tokens, 4096)
    return session


def _error(payload: Any) -> ProviderError:
    """An ``error`` event's ``error`` object as the ``ProviderError`` it means."""
    error = payload if isinstance(payload, dict) else {}
    kind, code = str(error.get("type") or ""), str(error.get("code") or "")
    message = str(error.get("message") or "unknown error")
    param = f" ({error['param']})" if error.get("param") else ""
    text = f"{code or kind}{param}: {message}" if (code or kind) else message
    if code == "invalid_api_key" or kind in ("authentication_error", "permission_error"):
        return ProviderAuthError(_PROVIDER, text)
    if "rate_limit" in code or kind == "rate_limit_error":
        return ProviderRateLimited(_PROVIDER, text)
    if kind == "server_error":
        return ProviderUnavailable(_PROVIDER, text)
    return ProviderRequestError(_PROVIDER, text)


class OpenAIRealtime:
    """OpenAI's Realtime API for calls. ``base_url``: OpenAI's (default
    ``https://api.openai.com/v1``), a compatible server or a fake; ``outbound``: the
    policy a user-given endpoint is reached through."""

    name = _PROVIDER

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
            _PROVIDER,
            url,
            {"Authorization": f"Bearer {self._api_key}"},
            open_timeout_s=self._open_timeout_s,
            outbound=self._outbound,
        )
        connection = OpenAIRealtimeConnection(websocket)
        await set_up_or_close(
            connection,
            connection.set_up(options),
            provider=_PROVIDER,
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
                raise _error(event.get("error"))
        raise ProviderRequestError(_PROVIDER, "the session.update was never acknowledged")

    async def _receive(self) -> dict[str, Any]:
        try:
            raw = await self._websocket.recv()
        except websockets.ConnectionClosed as exc:
            raise self._last_error or ProviderUnavailable(
                _PROVIDER, f"connection closed: {exc}"
            ) from exc
        return _parse(raw)

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
                _PROVIDER, f"connection closed: {exc}"
            ) from exc

    async def events(self) -> AsyncIterator[RealtimeEvent]:
        try:
            async for raw in self._websocket:
                event = self._event(_parse(raw))
                if event is not None:
                    yield event
        except websockets.ConnectionClosedError as exc:
            if not self._closing:
                raise self._last_error or ProviderUnavailable(
                    _PROVIDER, f"connection dropped: {exc}"
                ) from exc
            return
        if not self._closing:
            raise self._last_error or ProviderUnavailable(_PROVIDER, "the session was closed")

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
            error = _error(event.get("error"))
            self._last_error = error
            logger.warning("OpenAI Realtime reported an error: %s", error)
            return RealtimeNotice(str(error))
        return None

    async def aclose(self) -> None:
        self._closing = True
        await self._websocket.close()


def _parse(raw: str | bytes) -> dict[str, Any]:
    try:
        event = json.loads(raw)
    except ValueError as exc:
        raise ProviderUnavailable(_PROVIDER, "the server sent a frame that is not JSON") from exc
    if not isinstance(event, dict):
        raise ProviderUnavailable(_PROVIDER, "the server sent a frame that is not an object")
    return event


def create(c: Connection) -> OpenAIRealtime:
    """The catalog's factory."""
    return OpenAIRealtime(c.api_key, base_url=c.base_url, model=c.model, outbound=c.outbound)
