"""A fake of Gemini's Live API (the ``BidiGenerateContent`` WebSocket, v1beta) for
contract and call tests.

It speaks the protocol as the Live API reference (ai.google.dev/api/live) documents it
(decision 018): the key in the ``key`` query parameter (a wrong one: the socket is
accepted, then closed with 1008 and Google's "API key not valid" reason); every frame
the server sends is JSON in a binary frame. The first client message must be
``setup``, checked (``models/`` model name, ``responseModalities: ["AUDIO"]``, a
prebuilt voice, ``functionDeclarations`` with names, no unknown fields: else a 1007
close naming the field) and answered with ``setupComplete``.

``realtimeInput.audio`` (``audio/pcm;rate=16000``) goes through an energy VAD: caller
speech while the model generates is ``serverContent.interrupted`` (the generation
stops, as ``START_OF_ACTIVITY_INTERRUPTS`` does); after ``silenceDurationMs`` of quiet
the caller's turn ends and the model answers on its own with the next of ``replies``.
With input transcription on, the next text of ``heard`` comes as ``inputTranscription``
in two pieces, as Gemini streams it: its first word after 300 ms of speech, the rest
when the turn ends.
``clientContent`` with ``turnComplete`` makes it answer (a user text ending in a
double-quoted text makes it say that text; a new turn interrupts the one being
generated); ``toolResponse`` gives results back and the model goes on with the next
reply. An answer is audio (PCM16 24 kHz tone, ``seconds_per_char`` per character, in
``chunk_s`` ``modelTurn`` ``inlineData`` parts, ``chunk_delay_s`` apart) with
``outputTranscription`` pieces, then ``generationComplete`` and ``turnComplete`` with
``usageMetadata``; a ``toolCall`` of the reply's function calls ends it instead.

Switches: ``close_on_setup`` ((code, reason) instead of ``setupComplete``),
``close_after_audio`` ((code, reason) once this much caller audio, in ms, came),
``go_away`` (the next this many sessions get a ``goAway`` after ``setupComplete``),
``handles_withheld`` (resumption updates say not resumable),
``turn_complete_after_tool_call`` (a ``turnComplete`` right after a ``toolCall``: the
reference does not say whether one comes, so the adapter is tested both ways),
``late_words`` (caller words sent after the next answer's first audio), ``per_session``
(each session plays the same (heard, replies) conversation: concurrent calls). Every connection is a
``LiveSession`` in ``sessions``.

With ``sessionResumption`` in the setup, a ``sessionResumptionUpdate`` (``newHandle``,
``resumable: true``) follows ``setupComplete`` and every ``turnComplete``; a setup
naming a handle resumes that session (an unknown handle: a 1008 close).
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
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from tests.vendor_fakes import Reply

__all__ = ["PATH", "VOICES", "GeminiLiveFake", "LiveSession"]

# The documented endpoint and voices, spelled here rather than taken from the adapter,
# so that a wrong name in the adapter fails the tests.
PATH = "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"
VOICES = frozenset(
    {
        "Zephyr", "Puck", "Charon", "Kore", "Fenrir", "Leda", "Orus", "Aoede",
        "Callirrhoe", "Autonoe", "Enceladus", "Iapetus", "Umbriel", "Algieba",
        "Despina", "Erinome", "Algenib", "Rasalgethi", "Laomedeia", "Achernar",
        "Alnilam", "Schedar", "Gacrux", "Pulcherrima", "Achird", "Zubenelgenubi",
        "Vindemiatrix", "Sadachbia", "Sadaltager", "Sulafat",
    }
)  # fmt: skip
_SAY = re.compile(r'"(.*)"\s*$', re.DOTALL)
_SETUP_FIELDS = frozenset(
    {
        "model", "generationConfig", "systemInstruction", "tools", "realtimeInputConfig",
        "sessionResumption", "contextWindowCompression", "inputAudioTranscription",
        "outputAudioTranscription", "proactivity",
    }
)  # fmt: skip
_INPUT_MIME = re.compile(r"audio/pcm;rate=(\d+)$")
_RATE_OUT = 24_000
_FIRST_WORD_MS = 300  # caller speech before its first word is transcribed
# Models the Live API serves: gemini-…-live-… and gemini-…-native-audio-….
_LIVE_MODEL = re.compile(r"models/gemini-[\w.-]*(live|native-audio)")


@dataclass
class LiveSession:
    """One connection as the fake saw it: the query, every client message, the setup,
    what it said per turn, tool results, user texts and interruptions."""

    query: dict[str, str]
    received: list[dict[str, Any]] = field(default_factory=list)
    sent: list[dict[str, Any]] = field(default_factory=list)
    setup: dict[str, Any] = field(default_factory=dict)
    spoken: list[str] = field(default_factory=list)  # each answer's transcript
    audio_ms: list[int] = field(default_factory=list)  # each answer's audio sent
    tool_results: list[dict[str, Any]] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)  # clientContent user texts
    interruptions: int = 0
    input_rates: set[int] = field(default_factory=set)
    caller_audio_ms: float = 0.0
    resumed_from: int | None = None  # the index of the session this one resumes
    closed: asyncio.Event = field(default_factory=asyncio.Event)

    def kinds(self) -> list[str]:
        return [next(iter(message)) for message in self.received]


class GeminiLiveFake:
    """The fake's state and switches; ``app`` is the ASGI application."""

    def __init__(
        self,
        *,
        api_key: str = "gemini-test-key",
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
        self.close_on_setup: tuple[int, str] | None = None
        self.close_after_audio: tuple[float, int, str] | None = None
        self.go_away = 0  # how many sessions get a goAway after setupComplete
        self.handles: dict[str, int] = {}  # resumption handle -> the session it resumes
        # Updates say "not resumable" (as while the model is busy): no handle is given.
        self.handles_withheld = False
        self.turn_complete_after_tool_call = False
        # Words of the caller's turn sent after the answer's first audio (the reference
        # says input transcription comes independently of the model's turn).
        self.late_words: str | None = None
        # When set, each session hears and answers this conversation from its start
        # (many concurrent calls, as in benchmarks/load.py): (heard, replies).
        self.per_session: tuple[tuple[str, ...], tuple[Reply, ...]] | None = None
        self.sessions: list[LiveSession] = []
        self.url = ""  # where a test serves it
        self.app = Starlette(routes=[WebSocketRoute(PATH, self._session)])

    def script(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    @property
    def last(self) -> LiveSession:
        return self.sessions[-1]

    async def _session(self, websocket: WebSocket) -> None:
        session = LiveSession(query=dict(websocket.query_params.items()))
        self.sessions.append(session)
        await websocket.accept()
        if session.query.get("key") != self.api_key:
            reason = "API key not valid. Please pass a valid API key."
            await websocket.close(1008, reason)
            return
        runner = _Runner(self, session, websocket)
        try:
            with contextlib.suppress(WebSocketDisconnect):
                await runner.run()
        finally:
            session.closed.set()


class _Runner:
    """The server side of one session."""

    def __init__(self, fake: GeminiLiveFake, session: LiveSession, websocket: WebSocket) -> None:
        self.fake, self.session, self.websocket = fake, session, websocket
        self.answer: asyncio.Task[None] | None = None
        self.group: asyncio.TaskGroup | None = None
        self.calls: dict[str, str] = {}  # function calls awaiting a result: id -> name
        own = fake.per_session
        self.heard = list(own[0]) if own else fake.heard
        self.replies = deque(own[1]) if own else fake.replies
        self.heard_index = 0
        self.speaking = False
        self.quiet_ms = 0.0
        self.voiced_ms = 0.0
        self.first_sent = False
        self.words: list[str] = []  # the caller's words not yet transcribed

    async def send(self, message: dict[str, Any]) -> None:
        self.session.sent.append(message)
        with contextlib.suppress(RuntimeError, WebSocketDisconnect):
            await self.websocket.send_bytes(json.dumps(message).encode())

    async def resumable(self) -> None:
        """A handle to resume the session from here, when the setup asked for them."""
        if "sessionResumption" not in self.session.setup:
            return
        if self.fake.handles_withheld:
            await self.send({"sessionResumptionUpdate": {"newHandle": "", "resumable": False}})
        else:
            handle = f"handle-{uuid.uuid4().hex[:12]}"
            self.fake.handles[handle] = self.fake.sessions.index(self.session)
            await self.send({"sessionResumptionUpdate": {"newHandle": handle, "resumable": True}})

    async def close(self, code: int, reason: str) -> None:
        with contextlib.suppress(RuntimeError, WebSocketDisconnect):
            await self.websocket.close(code, reason)

    async def receive(self) -> dict[str, Any] | None:
        message = await self.websocket.receive()
        if message["type"] == "websocket.disconnect":
            return None
        raw = message.get("text") or message.get("bytes") or b"null"
        parsed = json.loads(raw)
        if not isinstance(parsed, dict) or len(parsed) != 1:
            await self.close(1007, "Invalid JSON payload received: one message field expected.")
            return None
        self.session.received.append(parsed)
        return parsed

    async def run(self) -> None:
        first = await self.receive()
        if first is None:
            return
        if "setup" not in first:
            await self.close(
                1007, "Invalid JSON payload received. The first message must be setup."
            )
            return
        problem = _invalid_setup(first["setup"])
        if problem is not None:
            await self.close(1007, problem)
            return
        if self.fake.close_on_setup is not None:
            await self.close(*self.fake.close_on_setup)
            return
        resumption = first["setup"].get("sessionResumption")
        handle = resumption.get("handle") if isinstance(resumption, dict) else None
        if handle is not None:
            if handle not in self.fake.handles:
                await self.close(1008, "Invalid session resumption handle.")
                return
            self.session.resumed_from = self.fake.handles[handle]
        self.session.setup = first["setup"]
        await self.send({"setupComplete": {}})
        await self.resumable()
        if self.fake.go_away:
            self.fake.go_away -= 1
            await self.send({"goAway": {"timeLeft": "50s"}})
        async with asyncio.TaskGroup() as group:
            self.group = group
            try:
                while (message := await self.receive()) is not None:
                    if not await self.handle(message):
                        return
            finally:
                if self.answer is not None:
                    self.answer.cancel()

    async def handle(self, message: dict[str, Any]) -> bool:
        """One client message; False when the fake closes the session."""
        if "realtimeInput" in message:
            audio = (message["realtimeInput"] or {}).get("audio")
            if isinstance(audio, dict):
                return await self.hear(audio)
        elif "clientContent" in message:
            content = message["clientContent"] or {}
            said = None
            for turn in content.get("turns") or []:
                for part in turn.get("parts") or []:
                    if "text" in part:
                        self.session.texts.append(str(part["text"]))
                        said = _SAY.search(str(part["text"])) or said
            if content.get("turnComplete"):
                await self.interrupt()
                self.start(Reply((said.group(1),)) if said else None)
        elif "toolResponse" in message:
            for response in (message["toolResponse"] or {}).get("functionResponses") or []:
                if self.calls.pop(str(response.get("id")), None) != response.get("name"):
                    await self.close(1007, f"Invalid function response id: {response.get('id')}")
                    return False
                self.session.tool_results.append(response)
            if not self.calls:
                self.start(None)
        else:
            await self.close(
                1007, f"Invalid JSON payload received. Unknown name {next(iter(message))!r}"
            )
            return False
        return True

    # -- the caller's side --------------------------------------------------------------

    async def hear(self, audio: dict[str, Any]) -> bool:
        rate_match = _INPUT_MIME.match(str(audio.get("mimeType", "")))
        if rate_match is None:
            await self.close(1007, f"Unsupported mime type: {audio.get('mimeType')}")
            return False
        rate = int(rate_match.group(1))
        self.session.input_rates.add(rate)
        samples = np.frombuffer(base64.b64decode(audio["data"]), dtype="<i2").astype(np.float64)
        duration_ms = 1000 * len(samples) / rate
        self.session.caller_audio_ms += duration_ms
        limit = self.fake.close_after_audio
        if limit is not None and self.session.caller_audio_ms >= limit[0]:
            await self.close(limit[1], limit[2])
            return False
        if not len(samples):
            return True
        voiced = float(np.sqrt(np.mean(samples**2))) > self.fake.energy_threshold
        transcribing = "inputAudioTranscription" in self.session.setup
        if voiced:
            self.quiet_ms = 0.0
            if not self.speaking:
                self.speaking, self.voiced_ms, self.first_sent = True, 0.0, False
                self.words = self._next_heard().split()
                await self.interrupt()
            self.voiced_ms += duration_ms
            if (
                transcribing
                and self.voiced_ms >= _FIRST_WORD_MS
                and self.words
                and not self.first_sent
            ):
                # The first word while the caller still speaks, as Gemini streams it.
                self.first_sent = True
                first, self.words = self.words[0], self.words[1:]
                await self.send({"serverContent": {"inputTranscription": {"text": first}}})
            return True
        if not self.speaking:
            return True
        self.quiet_ms += duration_ms
        detection = self.session.setup.get("realtimeInputConfig", {}).get(
            "automaticActivityDetection", {}
        )
        if self.quiet_ms < detection.get("silenceDurationMs", 500):
            return True
        self.speaking = False
        if transcribing and self.words:
            rest, self.words = " " + " ".join(self.words), []
            await self.send({"serverContent": {"inputTranscription": {"text": rest}}})
        self.start(None)
        return True

    def _next_heard(self) -> str:
        if self.fake.per_session is not None:
            index, self.heard_index = self.heard_index, self.heard_index + 1
        else:
            index, self.fake.heard_index = self.fake.heard_index, self.fake.heard_index + 1
        return self.heard[index % len(self.heard)]

    async def interrupt(self) -> None:
        if self.answer is not None and not self.answer.done():
            self.answer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.answer
            self.session.interruptions += 1
            await self.send({"serverContent": {"interrupted": True}})

    # -- the model's side ---------------------------------------------------------------

    def start(self, reply: Reply | None) -> None:
        if reply is None:
            reply = self.replies.popleft() if self.replies else Reply(("OK.",))
        assert self.group is not None
        self.answer = self.group.create_task(self.respond(reply))

    async def respond(self, reply: Reply) -> None:
        text = "".join(reply.text)
        if text:
            await self.speak(text)
        if reply.calls:
            calls = []
            for call in reply.calls:
                call_id = call.id or f"function-call-{uuid.uuid4().hex[:16]}"
                self.calls[call_id] = call.name
                calls.append({"id": call_id, "name": call.name, "args": dict(call.arguments)})
            await self.send({"toolCall": {"functionCalls": calls}})
            if self.fake.turn_complete_after_tool_call:
                await self.send({"serverContent": {"turnComplete": True}})
            return
        await self.send({"serverContent": {"generationComplete": True}})
        usage = {
            "promptTokenCount": reply.prompt_tokens,
            "responseTokenCount": reply.completion_tokens,
            "totalTokenCount": reply.prompt_tokens + reply.completion_tokens,
        }
        await self.send({"serverContent": {"turnComplete": True}, "usageMetadata": usage})
        await self.resumable()

    async def speak(self, text: str) -> None:
        total_s = max(self.fake.chunk_s, len(text) * self.fake.seconds_per_char)
        chunks = max(1, round(total_s / self.fake.chunk_s))
        words = text.split()
        self.session.spoken.append("")
        self.session.audio_ms.append(0)
        for index in range(chunks):
            if index and self.fake.chunk_delay_s:
                await asyncio.sleep(self.fake.chunk_delay_s)
            samples = int(self.fake.chunk_s * _RATE_OUT)
            t = (np.arange(samples) + index * samples) / _RATE_OUT
            pcm = (np.sin(2 * np.pi * 330 * t) * 6000).astype("<i2").tobytes()
            part = {
                "inlineData": {
                    "mimeType": "audio/pcm;rate=24000",
                    "data": base64.b64encode(pcm).decode(),
                }
            }
            await self.send({"serverContent": {"modelTurn": {"parts": [part]}}})
            if index == 0 and self.fake.late_words:
                late, self.fake.late_words = self.fake.late_words, None
                await self.send({"serverContent": {"inputTranscription": {"text": late}}})
            self.session.audio_ms[-1] += round(self.fake.chunk_s * 1000)
            due = " ".join(words[: round(len(words) * (index + 1) / chunks)])
            new = due[len(self.session.spoken[-1]) :]
            if new:
                self.session.spoken[-1] = due
                await self.send({"serverContent": {"outputTranscription": {"text": new}}})


def _invalid_setup(setup: Any) -> str | None:
    """The close reason Gemini would give for a ``setup`` it refuses."""
    if not isinstance(setup, dict):
        return "Invalid JSON payload received. 'setup' must be an object."
    unknown = set(setup) - _SETUP_FIELDS
    if unknown:
        return f"Invalid JSON payload received. Unknown name {sorted(unknown)[0]!r} at 'setup'."
    model = str(setup.get("model", ""))
    if not _LIVE_MODEL.match(model):
        return f"models/{model.removeprefix('models/')} is not found for API version v1beta"
    generation = setup.get("generationConfig") or {}
    if generation.get("responseModalities") != ["AUDIO"]:
        return "Invalid argument: responseModalities must be [AUDIO] for a native audio model."
    voice = (
        generation.get("speechConfig", {})
        .get("voiceConfig", {})
        .get("prebuiltVoiceConfig", {})
        .get("voiceName")
    )
    if voice is not None and voice not in VOICES:
        return f"Invalid argument: voice {voice} is not supported."
    for tool in setup.get("tools") or []:
        for declaration in tool.get("functionDeclarations") or []:
            if not declaration.get("name"):
                return "Invalid argument: a function declaration needs a name."
    return None
