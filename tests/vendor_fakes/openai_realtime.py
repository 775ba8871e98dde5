"""A fake of OpenAI's Realtime WebSocket (``/v1/realtime``, the GA interface) for
contract and call tests.

It speaks the protocol as the API reference's *Client events* and *Server events*
pages document it (decision 018): ``Authorization: Bearer <key>`` on the handshake
(else a 401 denial with OpenAI's error body), ``model`` in the query, ``session.created``
first; ``session.update`` is checked (``type: "realtime"``, the audio formats, turn
detection, function tools) and answered with ``session.updated``, or an ``error``
naming the parameter. ``input_audio_buffer.append`` audio (μ-law or PCM16 24 kHz, as
configured) goes through an energy VAD: ``input_audio_buffer.speech_started``, and after
``silence_duration_ms`` of quiet ``speech_stopped``, ``committed`` and (with input
transcription on) ``conversation.item.input_audio_transcription.completed`` with the
next text of ``heard``. With ``create_response`` true it answers on its own, as OpenAI
does.

``response.create`` answers with the next of ``replies`` (``Reply`` from
``tests.vendor_fakes``: text, then function calls); ``response.instructions`` ending
in a double-quoted text make it say that text (how the session has fixed text said).
Text is spoken as a tone of ``seconds_per_char`` per character in ``chunk_s`` deltas
(``response.output_audio.delta`` and ``response.output_audio_transcript.delta`` per
word), ``chunk_delay_s`` apart, then the ``.done`` events and ``response.done`` with
usage; ``response.cancel`` cuts it short (``status: "cancelled"``).
``conversation.item.truncate`` is refused with an ``error`` when ``audio_end_ms`` is
longer than the item's audio, as documented, else ``conversation.item.truncated``.

Switches: ``refuse`` (handshake statuses, consumed per connection), ``fail_set_up``
(an error object sent instead of ``session.updated``), ``close_after_error`` (the
socket is closed after that error). Every connection is a ``RealtimeSession`` in
``sessions``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import re
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from callwright.audio.codec import mulaw_decode, mulaw_encode
from tests.vendor_fakes import Reply

__all__ = ["OpenAIRealtimeFake", "RealtimeSession"]

_SAY = re.compile(r'"(.*)"\s*$', re.DOTALL)
_FORMATS = ("audio/pcm", "audio/pcmu", "audio/pcma")
_VOICES = ("alloy", "ash", "ballad", "coral", "echo", "sage", "shimmer", "verse", "marin", "cedar")


@dataclass
class RealtimeSession:
    """One connection as the fake saw it: the handshake, every client event, the
    configuration in force, what it said per item and each truncate it accepted."""

    headers: dict[str, str]
    query: dict[str, str]
    received: list[dict[str, Any]] = field(default_factory=list)
    sent: list[dict[str, Any]] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    audio_ms: dict[str, int] = field(default_factory=dict)  # item id -> audio sent
    spoken: dict[str, str] = field(default_factory=dict)  # item id -> transcript
    truncated: list[tuple[str, int]] = field(default_factory=list)
    tool_outputs: list[tuple[str, str]] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)  # user text messages
    caller_audio_ms: float = 0.0
    closed: asyncio.Event = field(default_factory=asyncio.Event)

    def types(self) -> list[str]:
        return [str(event.get("type")) for event in self.received]

    def sent_types(self) -> list[str]:
        return [str(event.get("type")) for event in self.sent]

    @property
    def wire_format(self) -> str:
        return str(self.config.get("audio", {}).get("input", {}).get("format", {}).get("type"))


class OpenAIRealtimeFake:
    """The fake's state and switches; ``app`` is the ASGI application."""

    def __init__(
        self,
        *,
        api_key: str = "sk-test-realtime",
        heard: tuple[str, ...] = ("Hello there.",),
        seconds_per_char: float = 0.05,
        chunk_s: float = 0.1,
        chunk_delay_s: float = 0.005,
        energy_threshold: float = 500.0,
    ) -> None:
        self.api_key = api_key
        self.heard = list(heard)
        self.heard_index = 0
        self.replies: deque[Reply] = deque()
        self.seconds_per_char = seconds_per_char
        self.chunk_s = chunk_s
        self.chunk_delay_s = chunk_delay_s
        self.energy_threshold = energy_threshold
        self.refuse: list[int] = []
        self.fail_set_up: dict[str, Any] | None = None
        self.close_after_error = False
        self.sessions: list[RealtimeSession] = []
        self.connected = asyncio.Event()
        self.url = ""  # where a test serves it
        self.app = Starlette(routes=[WebSocketRoute("/v1/realtime", self._session)])

    def script(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    @property
    def last(self) -> RealtimeSession:
        return self.sessions[-1]

    # -- one connection ---------------------------------------------------------------

    async def _session(self, websocket: WebSocket) -> None:
        session = RealtimeSession(
            headers={k.lower(): v for k, v in websocket.headers.items()},
            query=dict(websocket.query_params.items()),
        )
        self.sessions.append(session)
        if self.refuse or session.headers.get("authorization") != f"Bearer {self.api_key}":
            status = self.refuse.pop(0) if self.refuse else 401
            body = {
                "error": {
                    "message": "Incorrect API key provided." if status == 401 else "refused",
                    "type": "invalid_request_error",
                    "code": "invalid_api_key" if status == 401 else None,
                    "param": None,
                }
            }
            await websocket.send_denial_response(JSONResponse(body, status))
            return
        await websocket.accept()
        self.connected.set()
        runner = _Runner(self, session, websocket)
        try:
            with contextlib.suppress(WebSocketDisconnect):
                await runner.run()
        finally:
            session.closed.set()


class _Runner:
    """The server side of one session."""

    def __init__(
        self, fake: OpenAIRealtimeFake, session: RealtimeSession, websocket: WebSocket
    ) -> None:
        self.fake, self.session, self.websocket = fake, session, websocket
        self.response: asyncio.Task[None] | None = None
        self.cancelled = False
        self.group: asyncio.TaskGroup | None = None
        # The energy VAD over the caller's audio.
        self.speaking = False
        self.quiet_ms = 0.0
        self.user_item: str | None = None

    async def send(self, event: dict[str, Any]) -> None:
        event = {"event_id": f"event_{uuid.uuid4().hex[:20]}", **event}
        self.session.sent.append(event)
        with contextlib.suppress(RuntimeError, WebSocketDisconnect):
            await self.websocket.send_text(json.dumps(event))

    async def error(
        self, message: str, *, param: str | None = None, code: str | None = None
    ) -> None:
        await self.send(
            {
                "type": "error",
                "error": {
                    "type": "invalid_request_error",
                    "code": code,
                    "message": message,
                    "param": param,
                    "event_id": None,
                },
            }
        )

    async def run(self) -> None:
        if not self.session.query.get("model"):
            await self.error("Missing required parameter: 'model'.", param="model")
            await self.websocket.close(1008)
            return
        session_id = f"sess_{uuid.uuid4().hex[:20]}"
        await self.send(
            {
                "type": "session.created",
                "session": {"id": session_id, "object": "realtime.session", "type": "realtime"},
            }
        )
        async with asyncio.TaskGroup() as group:
            self.group = group
            while True:
                message = await self.websocket.receive()
                if message["type"] == "websocket.disconnect":
                    if self.response is not None:
                        self.response.cancel()
                    return
                event = json.loads(message.get("text") or "null")
                self.session.received.append(event)
                if not await self.handle(event):
                    if self.response is not None:
                        self.response.cancel()
                    return

    async def handle(self, event: dict[str, Any]) -> bool:
        """One client event; False when the fake closes the session."""
        kind = event.get("type")
        if kind == "session.update":
            return await self.update(event.get("session") or {})
        if kind == "input_audio_buffer.append":
            await self.hear(base64.b64decode(event["audio"]))
        elif kind == "response.create":
            self.start_response((event.get("response") or {}).get("instructions"))
        elif kind == "response.cancel":
            if self.response is not None and not self.response.done():
                self.cancelled = True
            else:
                await self.error(
                    "Cancellation failed: no active response found.",
                    code="response_cancel_not_active",
                )
        elif kind == "conversation.item.truncate":
            await self.truncate(event)
        elif kind == "conversation.item.create":
            item = event.get("item") or {}
            if item.get("type") == "message" and item.get("role") == "user":
                self.session.texts.append(str(item["content"][0]["text"]))
            elif item.get("type") != "function_call_output" or not item.get("call_id"):
                await self.error("Invalid item.", param="item")
                return True
            else:
                self.session.tool_outputs.append((item["call_id"], str(item.get("output"))))
            item_id = f"item_{uuid.uuid4().hex[:20]}"
            added = {"id": item_id, "object": "realtime.item", **item}
            await self.send({"type": "conversation.item.added", "item": added})
            await self.send({"type": "conversation.item.done", "item": added})
        else:
            await self.error(f"Invalid value: '{kind}'.", param="type", code="invalid_value")
        return True

    async def update(self, config: dict[str, Any]) -> bool:
        problem = _invalid_session(config)
        if problem is not None:
            await self.error(problem[1], param=problem[0], code="invalid_value")
            return True
        if self.fake.fail_set_up is not None:
            await self.send({"type": "error", "error": self.fake.fail_set_up})
            if self.fake.close_after_error:
                await self.websocket.close(1011)
                return False
            return True
        self.session.config = config
        await self.send({"type": "session.updated", "session": config})
        return True

    # -- the caller's side --------------------------------------------------------------

    def _turn_detection(self) -> dict[str, Any]:
        found: dict[str, Any] = self.session.config["audio"]["input"]["turn_detection"] or {}
        return found

    async def hear(self, audio: bytes) -> None:
        if self.session.wire_format == "audio/pcmu":
            pcm, rate = mulaw_decode(audio), 8000
        else:
            pcm, rate = audio, 24000
        samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
        duration_ms = 1000 * len(samples) / rate
        start_ms = self.session.caller_audio_ms
        self.session.caller_audio_ms += duration_ms
        if not len(samples):
            return
        voiced = float(np.sqrt(np.mean(samples**2))) > self.fake.energy_threshold
        turn = self._turn_detection()
        if voiced:
            self.quiet_ms = 0.0
            if not self.speaking:
                self.speaking = True
                self.user_item = f"item_{uuid.uuid4().hex[:20]}"
                await self.send(
                    {
                        "type": "input_audio_buffer.speech_started",
                        "audio_start_ms": int(start_ms),
                        "item_id": self.user_item,
                    }
                )
            return
        if not self.speaking:
            return
        self.quiet_ms += duration_ms
        silence_ms = (
            turn.get("silence_duration_ms", 500) if turn.get("type") == "server_vad" else 500
        )
        if self.quiet_ms < silence_ms:
            return
        self.speaking = False
        item = self.user_item or ""
        end_ms = int(self.session.caller_audio_ms - self.quiet_ms)
        await self.send(
            {"type": "input_audio_buffer.speech_stopped", "audio_end_ms": end_ms, "item_id": item}
        )
        await self.send(
            {"type": "input_audio_buffer.committed", "previous_item_id": None, "item_id": item}
        )
        if self.session.config["audio"]["input"].get("transcription"):
            heard = self.fake.heard[self.fake.heard_index % len(self.fake.heard)]
            self.fake.heard_index += 1
            await self.send(
                {
                    "type": "conversation.item.input_audio_transcription.completed",
                    "item_id": item,
                    "content_index": 0,
                    "transcript": heard,
                    "usage": {"type": "duration", "seconds": round(end_ms / 1000, 1)},
                }
            )
        if turn.get("create_response", True):
            self.start_response(None)

    # -- the model's side ---------------------------------------------------------------

    def start_response(self, instructions: str | None) -> None:
        if self.response is not None and not self.response.done():
            assert self.group is not None
            self.group.create_task(
                self.error(
                    "Conversation already has an active response in progress.",
                    code="conversation_already_has_active_response",
                )
            )
            return
        said = _SAY.search(instructions or "")
        reply = (
            Reply((said.group(1),))
            if said
            else (self.fake.replies.popleft() if self.fake.replies else Reply(("OK.",)))
        )
        self.cancelled = False
        assert self.group is not None
        self.response = self.group.create_task(self.respond(reply))

    async def respond(self, reply: Reply) -> None:
        response_id = f"resp_{uuid.uuid4().hex[:20]}"
        await self.send(
            {"type": "response.created", "response": {"id": response_id, "status": "in_progress"}}
        )
        status = "completed"
        text = "".join(reply.text)
        if text:
            status = await self.speak(response_id, text)
        if status == "completed":
            for call in reply.calls:
                call_id = call.id or f"call_{uuid.uuid4().hex[:16]}"
                arguments = json.dumps(dict(call.arguments))
                item_id = f"item_{uuid.uuid4().hex[:20]}"
                item = {
                    "id": item_id,
                    "type": "function_call",
                    "call_id": call_id,
                    "name": call.name,
                    "arguments": "",
                }
                await self.send(
                    {
                        "type": "response.output_item.added",
                        "response_id": response_id,
                        "output_index": 0,
                        "item": item,
                    }
                )
                await self.send(
                    {
                        "type": "response.function_call_arguments.done",
                        "response_id": response_id,
                        "item_id": item_id,
                        "output_index": 0,
                        "call_id": call_id,
                        "name": call.name,
                        "arguments": arguments,
                    }
                )
        await self.send(
            {
                "type": "response.done",
                "response": {
                    "id": response_id,
                    "status": status,
                    "usage": {
                        "input_tokens": reply.prompt_tokens,
                        "output_tokens": reply.completion_tokens,
                        "total_tokens": reply.prompt_tokens + reply.completion_tokens,
                    },
                },
            }
        )

    async def speak(self, response_id: str, text: str) -> str:
        """Stream ``text`` as audio and transcript; "cancelled" when cut short."""
        item_id = f"item_{uuid.uuid4().hex[:20]}"
        common = {
            "response_id": response_id,
            "item_id": item_id,
            "output_index": 0,
            "content_index": 0,
        }
        item = {"id": item_id, "type": "message", "role": "assistant", "status": "in_progress"}
        await self.send(
            {
                "type": "response.output_item.added",
                "response_id": response_id,
                "output_index": 0,
                "item": item,
            }
        )
        pcmu = self.session.wire_format == "audio/pcmu"
        rate = 8000 if pcmu else 24000
        total_s = max(self.fake.chunk_s, len(text) * self.fake.seconds_per_char)
        chunks = max(1, round(total_s / self.fake.chunk_s))
        words = text.split()
        self.session.audio_ms[item_id] = 0
        self.session.spoken[item_id] = ""
        for index in range(chunks):
            if self.cancelled:
                return "cancelled"
            if index and self.fake.chunk_delay_s:
                await asyncio.sleep(self.fake.chunk_delay_s)
                if self.cancelled:
                    return "cancelled"
            samples = int(self.fake.chunk_s * rate)
            t = (np.arange(samples) + index * samples) / rate
            pcm = (np.sin(2 * np.pi * 330 * t) * 6000).astype("<i2").tobytes()
            audio = mulaw_encode(pcm) if pcmu else pcm
            await self.send(
                {
                    "type": "response.output_audio.delta",
                    **common,
                    "delta": base64.b64encode(audio).decode(),
                }
            )
            self.session.audio_ms[item_id] += round(self.fake.chunk_s * 1000)
            # The words due by the end of this chunk.
            due = words[: round(len(words) * (index + 1) / chunks)]
            said = self.session.spoken[item_id]
            new = " ".join(due)[len(said) :]
            if new:
                self.session.spoken[item_id] = said + new
                await self.send(
                    {"type": "response.output_audio_transcript.delta", **common, "delta": new}
                )
        await self.send({"type": "response.output_audio.done", **common})
        await self.send(
            {"type": "response.output_audio_transcript.done", **common, "transcript": text}
        )
        await self.send(
            {
                "type": "response.output_item.done",
                "response_id": response_id,
                "output_index": 0,
                "item": {**item, "status": "completed"},
            }
        )
        return "completed"

    async def truncate(self, event: dict[str, Any]) -> None:
        item_id = str(event.get("item_id"))
        end_ms = event.get("audio_end_ms")
        if item_id not in self.session.audio_ms:
            await self.error(
                f"Item with item_id '{item_id}' not found.", param="item_id", code="item_not_found"
            )
            return
        if not isinstance(end_ms, int) or end_ms < 0 or event.get("content_index") != 0:
            await self.error("Invalid truncate.", param="audio_end_ms")
            return
        if end_ms > (sent := self.session.audio_ms[item_id]):
            await self.error(
                f"Audio content of {sent}ms is already shorter than {end_ms}ms",
                param="audio_end_ms",
                code="invalid_value",
            )
            return
        self.session.truncated.append((item_id, end_ms))
        await self.send(
            {
                "type": "conversation.item.truncated",
                "item_id": item_id,
                "content_index": 0,
                "audio_end_ms": end_ms,
            }
        )


def _invalid_session(config: dict[str, Any]) -> tuple[str, str] | None:
    """(param, message) of what OpenAI would refuse in a ``session.update``."""
    if config.get("type") != "realtime":
        return "session.type", "Missing required parameter: 'session.type'."
    audio = config.get("audio") or {}
    for side in ("input", "output"):
        found = (audio.get(side) or {}).get("format")
        if found is None:
            continue
        if found.get("type") not in _FORMATS:
            return f"session.audio.{side}.format.type", f"Invalid value: '{found.get('type')}'."
        if found["type"] == "audio/pcm" and found.get("rate", 24000) != 24000:
            return f"session.audio.{side}.format.rate", "Only a 24000 Hz sample rate is supported."
    turn = (audio.get("input") or {}).get("turn_detection")
    if turn is not None and turn.get("type") not in ("server_vad", "semantic_vad"):
        return "session.audio.input.turn_detection.type", f"Invalid value: '{turn.get('type')}'."
    voice = (audio.get("output") or {}).get("voice")
    if isinstance(voice, str) and voice not in _VOICES:
        return "session.audio.output.voice", f"Invalid value: '{voice}'."
    for index, tool in enumerate(config.get("tools") or []):
        if tool.get("type") != "function" or not tool.get("name"):
            return f"session.tools[{index}]", "Invalid tool."
    for beta in ("input_audio_format", "output_audio_format", "voice", "turn_detection"):
        if beta in config:
            return f"session.{beta}", f"Unknown parameter: 'session.{beta}'."
    return None
