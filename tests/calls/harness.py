"""What a phone call test needs: the app on a real port (HTTP and WebSocket), a fake
of Twilio's REST API, and a fake of Twilio's side of a call — it signs the voice
webhook, reads the TwiML, opens the Media Stream and speaks μ-law frames in real time,
plays what it is sent at real-time speed, echoes marks when their audio has played,
honours ``clear``, and hangs up with ``stop``."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import socket
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import websockets
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from callwright.api.app import create_app
from callwright.engine.audio import mulaw_encode
from callwright.engine.clock import MonotonicClock
from callwright.engine.session import SessionProviders
from callwright.providers.fakes import EnergyVAD, ScriptedLLM, ScriptedSTT, ToneTTS, speech
from callwright.runtime.registry import ProviderChoice, ProviderFactory
from callwright.settings import Settings
from callwright.telephony.twilio_signature import twilio_signature
from tests.vendor_fakes import serve

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "twilio-auth-token-0123456789"
FRAME_BYTES = 160  # 20 ms of 8 kHz μ-law


def listener() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


# -- the providers a test call runs on ------------------------------------------------


@dataclass
class FakeProviders:
    """Scripted providers on real time; ``factory`` hands them to every call."""

    utterances: tuple[str, ...] = ()
    replies: list[Any] = field(default_factory=list)
    clock: MonotonicClock = field(default_factory=MonotonicClock)
    llm: ScriptedLLM | None = None

    def factory(self) -> ProviderFactory:
        async def build(
            settings: Any, organization_id: int, sample_rate: int
        ) -> tuple[SessionProviders, list[ProviderChoice]]:
            self.llm = ScriptedLLM(self.clock, list(self.replies), first_token_s=0.05)
            providers = SessionProviders(
                llms=(self.llm,),
                stt=ScriptedSTT.saying(self.clock, *self.utterances, final_latency_s=0.05),
                tts=ToneTTS(self.clock, first_audio_s=0.02, seconds_per_char=0.03),
                vad=EnergyVAD(),
            )
            choices = [
                ProviderChoice("llm", "openai", "scripted-llm", "test"),
                ProviderChoice("stt", "nova-2", "scripted-stt", "test"),
                ProviderChoice("tts", "elevenlabs", "tone-tts", "test"),
            ]
            return providers, choices

        return build


# -- Twilio's REST API ------------------------------------------------------------------


@dataclass
class FakeTwilioApi:
    """Twilio's REST API as far as callwright uses it; records every request."""

    numbers: set[str] = field(default_factory=set)
    requests: list[tuple[str, str, dict[str, list[str]]]] = field(default_factory=list)
    on_create_call: Callable[[dict[str, list[str]]], Awaitable[None]] | None = None

    def app(self) -> FastAPI:
        api = FastAPI()
        prefix = f"/2010-04-01/Accounts/{ACCOUNT_SID}"

        def authorised(request: Request) -> bool:
            expected = base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
            return request.headers.get("authorization") == f"Basic {expected}"

        async def record(request: Request) -> dict[str, list[str]]:
            form: dict[str, list[str]] = {}
            for key, value in (await request.form()).multi_items():
                form.setdefault(key, []).append(str(value))
            self.requests.append((request.method, request.url.path, form))
            return form

        def denied() -> JSONResponse:
            return JSONResponse(
                {"code": 20003, "message": "Authenticate", "status": 401}, status_code=401
            )

        @api.post(prefix + "/Calls.json")
        async def create_call(request: Request) -> Response:
            if not authorised(request):
                return denied()
            form = await record(request)
            sid = "CA" + uuid.uuid4().hex
            if self.on_create_call is not None:
                asyncio.get_running_loop().create_task(self.on_create_call(form | {"Sid": [sid]}))
            return JSONResponse(
                {"sid": sid, "status": "queued", "to": form["To"][0], "from": form["From"][0]},
                status_code=201,
            )

        @api.post(prefix + "/Calls/{call_sid}.json")
        async def update_call(call_sid: str, request: Request) -> Response:
            if not authorised(request):
                return denied()
            form = await record(request)
            return JSONResponse({"sid": call_sid, "status": form.get("Status", ["in-progress"])[0]})

        @api.get(prefix + "/IncomingPhoneNumbers.json")
        async def list_numbers(request: Request) -> Response:
            if not authorised(request):
                return denied()
            self.requests.append(("GET", request.url.path, {}))
            number = request.query_params.get("PhoneNumber", "")
            found = (
                [{"sid": "PN" + "1" * 32, "phone_number": number}] if number in self.numbers else []
            )
            return JSONResponse({"incoming_phone_numbers": found})

        @api.post(prefix + "/IncomingPhoneNumbers/{number_sid}.json")
        async def update_number(number_sid: str, request: Request) -> Response:
            if not authorised(request):
                return denied()
            form = await record(request)
            return JSONResponse({"sid": number_sid, "voice_url": form["VoiceUrl"][0]})

        return api


# -- Twilio's side of a call --------------------------------------------------------------


def signed_post_headers(
    url: str, params: dict[str, str], token: str = AUTH_TOKEN
) -> dict[str, str]:
    return {"X-Twilio-Signature": twilio_signature(token, url, params.items())}


async def twilio_post(
    base_url: str, path: str, params: dict[str, str], *, token: str = AUTH_TOKEN
) -> httpx.Response:
    """POST a form to our server the way Twilio does: signed with the auth token."""
    url = base_url + path
    async with httpx.AsyncClient() as client:
        return await client.post(url, data=params, headers=signed_post_headers(url, params, token))


def parse_stream_twiml(body: str) -> tuple[str, dict[str, str]]:
    """The ``<Connect><Stream url>`` and its ``<Parameter>``s."""
    stream = ET.fromstring(body).find("./Connect/Stream")  # noqa: S314 (our own TwiML)
    assert stream is not None, body
    parameters = {p.get("name", ""): p.get("value", "") for p in stream.findall("Parameter")}
    return stream.get("url", ""), parameters


@dataclass
class MediaStreamCall:
    """Twilio's end of one Media Stream: sends caller audio in real time, plays what it
    receives in real time, echoes marks once played, drops its buffer on ``clear``."""

    websocket: Any
    stream_sid: str
    call_sid: str
    received_media: int = 0
    received_audio_bytes: int = 0
    marks_received: list[str] = field(default_factory=list)
    marks_echoed: list[str] = field(default_factory=list)
    clears: int = 0
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    _playout_end: float = 0.0
    _pending_marks: list[tuple[float, str]] = field(default_factory=list)
    _sequence: int = 1

    def _next(self) -> str:
        self._sequence += 1
        return str(self._sequence)

    async def send(self, message: dict[str, Any]) -> None:
        # Once the server has closed the stream there is nobody to talk to.
        with contextlib.suppress(websockets.ConnectionClosed):
            await self.websocket.send(json.dumps(message))

    async def listen(self) -> None:
        """Receive until the server closes; echo marks as their audio finishes playing."""
        try:
            async for raw in self.websocket:
                message = json.loads(raw)
                now = time.monotonic()
                kind = message["event"]
                assert message["streamSid"] == self.stream_sid
                if kind == "media":
                    audio = base64.b64decode(message["media"]["payload"])
                    self.received_media += 1
                    self.received_audio_bytes += len(audio)
                    self._playout_end = max(self._playout_end, now) + len(audio) / 8000
                elif kind == "mark":
                    name = message["mark"]["name"]
                    self.marks_received.append(name)
                    self._pending_marks.append((max(self._playout_end, now), name))
                elif kind == "clear":
                    self.clears += 1
                    self._playout_end = now
                    # Twilio answers a clear by sending every pending mark back at once.
                    for _, name in self._pending_marks:
                        await self._echo(name)
                    self._pending_marks.clear()
        except websockets.ConnectionClosed:
            pass
        finally:
            self.closed.set()

    async def _echo(self, name: str) -> None:
        self.marks_echoed.append(name)
        await self.send(
            {
                "event": "mark",
                "sequenceNumber": self._next(),
                "streamSid": self.stream_sid,
                "mark": {"name": name},
            }
        )

    async def _frame(self, mulaw: bytes) -> None:
        now = time.monotonic()
        due = [entry for entry in self._pending_marks if entry[0] <= now]
        for entry in due:
            self._pending_marks.remove(entry)
            await self._echo(entry[1])
        await self.send(
            {
                "event": "media",
                "sequenceNumber": self._next(),
                "media": {
                    "track": "inbound",
                    "chunk": self._next(),
                    "timestamp": str(int(now * 1000)),
                    "payload": base64.b64encode(mulaw).decode(),
                },
                "streamSid": self.stream_sid,
            }
        )

    async def play(self, pcm16_8k: bytes) -> None:
        """Send caller audio as 20 ms μ-law frames, in real time."""
        mulaw = mulaw_encode(pcm16_8k)
        start = time.monotonic()
        for index, offset in enumerate(range(0, len(mulaw), FRAME_BYTES)):
            if self.closed.is_set():
                return
            await self._frame(mulaw[offset : offset + FRAME_BYTES].ljust(FRAME_BYTES, b"\xff"))
            delay = start + (index + 1) * 0.02 - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)

    async def speak(self, seconds: float) -> None:
        await self.play(speech(seconds, 8000))

    async def silence(self, seconds: float) -> None:
        await self.play(bytes(int(seconds * 8000) * 2))

    async def silence_until(self, done: Callable[[], bool], limit_s: float = 20.0) -> None:
        deadline = time.monotonic() + limit_s
        while not done():
            assert time.monotonic() < deadline, "timed out waiting on the assistant"
            await self.silence(0.1)

    async def dtmf(self, digit: str) -> None:
        await self.send(
            {
                "event": "dtmf",
                "streamSid": self.stream_sid,
                "sequenceNumber": self._next(),
                "dtmf": {"track": "inbound_track", "digit": digit},
            }
        )

    async def stop(self) -> None:
        await self.send(
            {
                "event": "stop",
                "sequenceNumber": self._next(),
                "streamSid": self.stream_sid,
                "stop": {"accountSid": ACCOUNT_SID, "callSid": self.call_sid},
            }
        )


@contextlib.asynccontextmanager
async def media_stream(
    stream_url: str, parameters: dict[str, str], call_sid: str
) -> AsyncIterator[MediaStreamCall]:
    """Open the Media Stream the TwiML named and send ``connected`` and ``start``."""
    stream_sid = "MZ" + uuid.uuid4().hex
    async with websockets.connect(stream_url) as websocket:
        call = MediaStreamCall(websocket, stream_sid, call_sid)
        await call.send({"event": "connected", "protocol": "Call", "version": "1.0.0"})
        await call.send(
            {
                "event": "start",
                "sequenceNumber": "1",
                "start": {
                    "accountSid": ACCOUNT_SID,
                    "streamSid": stream_sid,
                    "callSid": call_sid,
                    "tracks": ["inbound"],
                    "customParameters": parameters,
                    "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
                },
                "streamSid": stream_sid,
            }
        )
        async with asyncio.TaskGroup() as group:
            listening = group.create_task(call.listen())
            try:
                yield call
            finally:
                await websocket.close()
                await asyncio.wait({listening}, timeout=5)


@dataclass
class PhoneLab:
    """The app on a port with fake providers and a fake Twilio API."""

    base_url: str
    app: FastAPI
    twilio: FakeTwilioApi
    providers: FakeProviders

    @property
    def ws_base(self) -> str:
        return self.base_url.replace("http://", "ws://")


@contextlib.asynccontextmanager
async def phone_lab(
    settings: Settings, providers: FakeProviders, **overrides: Any
) -> AsyncIterator[PhoneLab]:
    twilio = FakeTwilioApi()
    api_socket, app_socket = listener(), listener()
    twilio_url = f"http://127.0.0.1:{api_socket.getsockname()[1]}"
    base_url = f"http://127.0.0.1:{app_socket.getsockname()[1]}"
    configured = settings.model_copy(
        update={"public_url": base_url, "twilio_api_base_url": twilio_url, **overrides}
    )
    app = create_app(configured, provider_factory=providers.factory())
    try:
        async with (
            serve(twilio.app(), listener=api_socket),
            serve(app, listener=app_socket, lifespan="on"),
        ):
            yield PhoneLab(base_url, app, twilio, providers)
    finally:
        api_socket.close()
        app_socket.close()
