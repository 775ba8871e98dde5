"""A fake of Deepgram's live transcription WebSocket (``/v1/listen``) for contract tests.

It speaks the protocol as Deepgram's "Live Audio" reference documents it: the
``Authorization: Token <key>`` handshake (refused with a JSON ``err_code`` body and an
HTTP status), settings as query parameters, binary PCM16 audio, the ``KeepAlive`` /
``Finalize`` / ``CloseStream`` text messages, and ``Results`` / ``SpeechStarted`` /
``UtteranceEnd`` / ``Metadata`` answers; a stream that hears nothing for
``idle_timeout_s`` is closed with 1011 and ``NET-0001``, as Deepgram does after 10 s,
and an empty binary frame or an unknown message with 1002 and ``DATA-0000``.
It is stricter than Deepgram where that catches adapter mistakes: ``keywords`` on a
nova-3 model and ``keyterm`` on an older one are refused with 400.

It recognises no speech. Audio louder than ``energy_threshold`` (RMS per 10 ms) starts
an utterance; ``Finalize``, ``endpointing`` ms of silence or ``CloseStream`` ends it,
and its final transcript is the next text of ``script``. Interim results reveal that
text word by word, one more every ``interim_every_s`` of audio.

Switches: ``refuse`` (handshake statuses, one per connection, consumed in order),
``drop_after_s`` (audio seconds after which connections are closed with ``drop_with``,
1011 by default; one entry per connection), ``first_result_delay_s`` (silence before
a connection's first message). Every connection is recorded in ``sessions``.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

__all__ = ["DeepgramListenFake", "ListenSession"]

_FRAME_S = 0.01
_MODEL_INFO = {"name": "2-general-nova", "version": "2024-01-18.26916", "arch": "nova-2"}
_ERRORS = {
    400: ("Bad Request", "INVALID_QUERY_PARAMETER"),
    401: ("Invalid credentials.", "INVALID_AUTH"),
    429: ("Too many requests. Please try again later.", "TOO_MANY_REQUESTS"),
    500: ("Internal server error.", "INTERNAL_SERVER_ERROR"),
    503: ("Service unavailable.", "SERVICE_UNAVAILABLE"),
}


@dataclass
class ListenSession:
    """One connection as the fake saw it."""

    headers: dict[str, str]
    query: list[tuple[str, str]]  # as sent: repeated keys stay repeated
    control: list[dict[str, Any]] = field(default_factory=list)  # text messages received
    sent: list[dict[str, Any]] = field(default_factory=list)  # messages the fake sent
    audio_bytes: int = 0
    frame_bytes: list[int] = field(default_factory=list)  # the size of each audio message
    close_code: int | None = None  # how the fake closed it
    client_closed: asyncio.Event = field(default_factory=asyncio.Event)

    def param(self, key: str) -> str | None:
        values = self.params(key)
        return values[-1] if values else None

    def params(self, key: str) -> list[str]:
        return [value for name, value in self.query if name == key]

    def control_types(self) -> list[str]:
        return [str(message.get("type")) for message in self.control]


class _Utterances:
    """Speech detection and scripted transcripts for one connection."""

    def __init__(self, fake: DeepgramListenFake, session: ListenSession) -> None:
        self.fake, self.session = fake, session
        self.sample_rate = int(session.param("sample_rate") or 16000)
        self.interim = session.param("interim_results") == "true"
        self.punctuate = session.param("punctuate") != "false"
        self.vad_events = session.param("vad_events") == "true"
        endpointing = session.param("endpointing") or "10"
        self.endpointing_s = None if endpointing == "false" else int(endpointing) / 1000
        utterance_end = session.param("utterance_end_ms")
        self.utterance_end_s = int(utterance_end) / 1000 if utterance_end else None
        self.now = 0.0  # audio seconds received on this connection
        self.segment_start = 0.0  # start of the audio no final covers yet
        self.speech_start: float | None = None
        self.last_voiced = 0.0
        self.last_word_end: float | None = None  # for UtteranceEnd
        self.next_interim = 0.0
        self.interims = 0
        self.leftover = b""

    def audio(self, chunk: bytes) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        data = self.leftover + chunk
        frame_bytes = 2 * int(self.sample_rate * _FRAME_S)
        whole = len(data) - len(data) % frame_bytes
        self.leftover = data[whole:]
        samples = np.frombuffer(data[:whole], dtype="<i2").astype(np.float64)
        for frame in samples.reshape(-1, frame_bytes // 2):
            voiced = float(np.sqrt(np.mean(frame**2))) > self.fake.energy_threshold
            if voiced and self.speech_start is None:
                self.speech_start, self.next_interim = self.now, self.now
                self.interims = 0
                if self.vad_events:
                    out.append({"type": "SpeechStarted", "channel": [0], "timestamp": self.now})
            self.now += _FRAME_S
            if voiced:
                self.last_voiced = self.now
            elif (
                self.speech_start is not None
                and self.endpointing_s is not None
                and self.now - self.last_voiced >= self.endpointing_s
            ):
                out += self.finalize(speech_final=True)
                continue
            if self.speech_start is not None and self.interim and self.now >= self.next_interim:
                self.next_interim = self.now + self.fake.interim_every_s
                self.interims += 1
                out.append(self._results(is_final=False))
            if (
                self.last_word_end is not None
                and self.utterance_end_s is not None
                and self.speech_start is None
                and self.now - self.last_word_end >= self.utterance_end_s
            ):
                out.append(
                    {"type": "UtteranceEnd", "channel": [0, 1], "last_word_end": self.last_word_end}
                )
                self.last_word_end = None
        return out

    def finalize(self, *, speech_final: bool = False, from_finalize: bool = False) -> list[Any]:
        if self.speech_start is None and not from_finalize:
            return []
        message = self._results(is_final=True, speech_final=speech_final)
        if from_finalize:
            message["from_finalize"] = True
        if self.speech_start is not None:
            self.fake.script_index += 1
            self.last_word_end = self.last_voiced
        self.speech_start, self.segment_start = None, self.now
        return [message]

    def _results(self, *, is_final: bool, speech_final: bool = False) -> dict[str, Any]:
        text: Sequence[str] = ()
        if self.speech_start is not None:
            script = self.fake.script
            text = script[self.fake.script_index % len(script)].split()
            if not is_final:
                text = text[: min(len(text), self.interims)]
        start = self.speech_start or self.now
        end = self.last_voiced if is_final else self.now
        step = (end - start) / max(1, len(text))
        words = [
            {
                "word": re.sub(r"[^\w']", "", token).lower(),
                "start": round(start + i * step, 3),
                "end": round(start + (i + 1) * step, 3),
                "confidence": 0.98,
                "punctuated_word": token if self.punctuate else re.sub(r"[^\w']", "", token),
            }
            for i, token in enumerate(text)
        ]
        return {
            "type": "Results",
            "channel_index": [0, 1],
            "duration": round(self.now - self.segment_start, 3),
            "start": round(self.segment_start, 3),
            "is_final": is_final,
            "speech_final": speech_final,
            "channel": {
                "alternatives": [
                    {
                        "transcript": " ".join(
                            w["punctuated_word"] if self.punctuate else w["word"] for w in words
                        ),
                        "confidence": 0.98 if words else 0.0,
                        "words": words,
                    }
                ]
            },
            "metadata": {
                "request_id": self.fake.request_id,
                "model_info": _MODEL_INFO,
                "model_uuid": self.fake.model_uuid,
            },
            "from_finalize": False,
        }


class DeepgramListenFake:
    """The fake's state and switches; ``app`` is the ASGI application."""

    def __init__(
        self,
        *,
        api_key: str = "dg-test-key",
        script: Sequence[str] = ("Hello there.",),
        energy_threshold: float = 300.0,
        interim_every_s: float = 0.25,
        idle_timeout_s: float = 10.0,
    ) -> None:
        self.api_key = api_key
        self.script = list(script)
        self.script_index = 0
        self.energy_threshold = energy_threshold
        self.interim_every_s = interim_every_s
        self.idle_timeout_s = idle_timeout_s
        self.refuse: list[int] = []
        self.retry_after: str | None = None
        self.drop_after_s: list[float] = []
        self.drop_with = (1011, "NET-0000: internal error")
        self.first_result_delay_s = 0.0
        self.sessions: list[ListenSession] = []
        self.url = ""  # where a test serves it
        self.request_id = str(uuid.uuid4())
        self.model_uuid = str(uuid.uuid4())
        self.app = Starlette(routes=[WebSocketRoute("/v1/listen", self._listen)])

    async def _listen(self, websocket: WebSocket) -> None:
        session = ListenSession(
            headers={k.lower(): v for k, v in websocket.headers.items()},
            query=list(websocket.query_params.multi_items()),
        )
        self.sessions.append(session)
        if (status := self._refusal(session)) is not None:
            message, code = _ERRORS.get(status, ("Error.", "ERROR"))
            headers = (
                {"retry-after": self.retry_after} if status == 429 and self.retry_after else {}
            )
            body = {"err_code": code, "err_msg": message, "request_id": str(uuid.uuid4())}
            await websocket.send_denial_response(JSONResponse(body, status, headers=headers))
            return
        await websocket.accept()
        utterances = _Utterances(self, session)
        drop_after_s = self.drop_after_s.pop(0) if self.drop_after_s else None
        first = True

        async def send(messages: list[dict[str, Any]]) -> None:
            nonlocal first
            for message in messages:
                if first and self.first_result_delay_s:
                    await asyncio.sleep(self.first_result_delay_s)
                first = False
                session.sent.append(message)
                await websocket.send_text(json.dumps(message))

        try:
            while True:
                try:
                    async with asyncio.timeout(self.idle_timeout_s):
                        message = await websocket.receive()
                except TimeoutError:
                    reason = "NET-0001: no audio received within the timeout window"
                    await self._close(websocket, session, 1011, reason)
                    return
                if message["type"] == "websocket.disconnect":
                    session.client_closed.set()
                    return
                if message.get("bytes") is not None:
                    if not message["bytes"]:
                        reason = "DATA-0000: The payload cannot be decoded as audio."
                        await self._close(websocket, session, 1002, reason)
                        return
                    session.audio_bytes += len(message["bytes"])
                    session.frame_bytes.append(len(message["bytes"]))
                    await send(utterances.audio(message["bytes"]))
                    if drop_after_s is not None and utterances.now >= drop_after_s:
                        await self._close(websocket, session, *self.drop_with)
                        return
                    continue
                control = json.loads(message.get("text") or "null")
                session.control.append(control)
                kind = control.get("type") if isinstance(control, dict) else None
                if kind == "Finalize":
                    await send(utterances.finalize(from_finalize=True))
                elif kind == "CloseStream":
                    await send([*utterances.finalize(), self._metadata(utterances.now)])
                    await self._close(websocket, session, 1000, "")
                    return
                elif kind != "KeepAlive":
                    await self._close(websocket, session, 1002, "DATA-0000: unknown message")
                    return
        except WebSocketDisconnect:
            session.client_closed.set()

    def _refusal(self, session: ListenSession) -> int | None:
        if self.refuse:
            return self.refuse.pop(0)
        if session.headers.get("authorization") != f"Token {self.api_key}":
            return 401
        model = session.param("model") or ""
        if session.param("encoding") != "linear16" or not session.param("sample_rate"):
            return 400
        if model.startswith("nova-3") and session.params("keywords"):
            return 400
        if session.params("keyterm") and not model.startswith("nova-3"):
            return 400
        return None

    async def _close(
        self, websocket: WebSocket, session: ListenSession, code: int, why: str
    ) -> None:
        session.close_code = code
        await websocket.close(code, why)

    def _metadata(self, duration: float) -> dict[str, Any]:
        return {
            "type": "Metadata",
            "transaction_key": "deprecated",
            "request_id": self.request_id,
            "sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "created": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "duration": round(duration, 3),
            "channels": 1,
            "models": [self.model_uuid],
            "model_info": {self.model_uuid: _MODEL_INFO},
        }
