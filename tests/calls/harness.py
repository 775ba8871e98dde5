"""What a phone call test needs: the app on a real port (HTTP and WebSocket), a fake
of Twilio's REST API, and a fake of Twilio's side of a call — it signs the voice
webhook, reads the TwiML, opens the Media Stream and speaks μ-law frames in real time,
plays what it is sent at real-time speed, echoes marks when their audio has played,
honours ``clear``, and hangs up with ``stop``."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
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
from callwright.audio.codec import mulaw_encode
from callwright.clock import MonotonicClock
from callwright.engine.session_providers import SessionProviders
from callwright.providers.fakes import EnergyVAD, ScriptedLLM, ScriptedSTT, ToneTTS, speech
from callwright.runtime.registry import ProviderChoice, ProviderFactory
from callwright.settings import Settings
from callwright.transports.twilio.signature import twilio_signature
from tests.vendor_fakes import serve

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "twilio-auth-token-0123456789"
FRAME_BYTES = 160  # 20 ms of 8 kHz μ-law

# The tests' API requests: a loaded machine (CI, two cores) may take seconds where a
# quiet one takes milliseconds; what a test checks is the answer, not its speed.
API_TIMEOUT = httpx.Timeout(30)


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
    """Twilio's REST API as far as callwright uses it, for any number of accounts: each
    AccountSid authenticates with its AuthToken (HTTP basic, as Twilio documents; a
    wrong or unknown pair is Twilio's 401 body) and owns the numbers given to it with
    ``own``. ``down`` makes every request a 503. Records every request."""

    tokens: dict[str, str] = field(default_factory=lambda: {ACCOUNT_SID: AUTH_TOKEN})
    owners: dict[str, str] = field(default_factory=dict)  # E.164 number -> AccountSid
    requests: list[tuple[str, str, dict[str, list[str]]]] = field(default_factory=list)
    on_create_call: Callable[[dict[str, list[str]]], Awaitable[None]] | None = None
    down: bool = False
    base_url: str = ""  # set by ``serving``

    def own(self, number: str, account_sid: str = ACCOUNT_SID) -> None:
        self.owners[number] = account_sid

    @staticmethod
    def number_sid(number: str) -> str:
        return "PN" + hashlib.sha256(number.encode()).hexdigest()[:32]

    def _number(self, number: str, account_sid: str) -> dict[str, Any]:
        sid = self.number_sid(number)
        return {
            "sid": sid,
            "account_sid": account_sid,
            "phone_number": number,
            "friendly_name": number,
            "status": "in-use",
            "voice_url": "",
            "voice_method": "POST",
            "api_version": "2010-04-01",
            "uri": f"/2010-04-01/Accounts/{account_sid}/IncomingPhoneNumbers/{sid}.json",
        }

    def app(self) -> FastAPI:
        api = FastAPI()
        prefix = "/2010-04-01/Accounts/{account_sid}"

        def authorised(request: Request, account_sid: str) -> bool:
            token = self.tokens.get(account_sid)
            if token is None:
                return False
            expected = base64.b64encode(f"{account_sid}:{token}".encode()).decode()
            return request.headers.get("authorization") == f"Basic {expected}"

        async def record(request: Request) -> dict[str, list[str]]:
            form: dict[str, list[str]] = {}
            for key, value in (await request.form()).multi_items():
                form.setdefault(key, []).append(str(value))
            for key, value in request.query_params.multi_items():
                form.setdefault(key, []).append(value)
            self.requests.append((request.method, request.url.path, form))
            return form

        def refused(request: Request, account_sid: str) -> Response | None:
            if self.down:
                return JSONResponse(
                    {"code": 20503, "message": "Service unavailable", "status": 503},
                    status_code=503,
                )
            if authorised(request, account_sid):
                return None
            return JSONResponse(
                {
                    "code": 20003,
                    "message": "Authenticate",
                    "more_info": "https://www.twilio.com/docs/errors/20003",
                    "status": 401,
                },
                status_code=401,
            )

        @api.get(prefix + ".json")
        async def fetch_account(account_sid: str, request: Request) -> Response:
            await record(request)
            if (answer := refused(request, account_sid)) is not None:
                return answer
            return JSONResponse(
                {
                    "sid": account_sid,
                    "owner_account_sid": account_sid,
                    "friendly_name": "Fake account",
                    "status": "active",
                    "type": "Full",
                    "uri": f"/2010-04-01/Accounts/{account_sid}.json",
                }
            )

        @api.post(prefix + "/Calls.json")
        async def create_call(account_sid: str, request: Request) -> Response:
            form = await record(request)
            if (answer := refused(request, account_sid)) is not None:
                return answer
            sid = "CA" + uuid.uuid4().hex
            if self.on_create_call is not None:
                asyncio.get_running_loop().create_task(self.on_create_call(form | {"Sid": [sid]}))
            return JSONResponse(
                {"sid": sid, "status": "queued", "to": form["To"][0], "from": form["From"][0]},
                status_code=201,
            )

        @api.post(prefix + "/Calls/{call_sid}.json")
        async def update_call(account_sid: str, call_sid: str, request: Request) -> Response:
            form = await record(request)
            if (answer := refused(request, account_sid)) is not None:
                return answer
            return JSONResponse({"sid": call_sid, "status": form.get("Status", ["in-progress"])[0]})

        @api.get(prefix + "/IncomingPhoneNumbers.json")
        async def list_numbers(account_sid: str, request: Request) -> Response:
            await record(request)
            if (answer := refused(request, account_sid)) is not None:
                return answer
            # Twilio matches partial numbers too: a prefix of an owned number finds it.
            wanted = request.query_params.get("PhoneNumber", "")
            found = [
                self._number(number, owner)
                for number, owner in sorted(self.owners.items())
                if owner == account_sid and wanted in number
            ]
            uri = f"/2010-04-01/Accounts/{account_sid}/IncomingPhoneNumbers.json"
            return JSONResponse(
                {
                    "incoming_phone_numbers": found,
                    "start": 0,
                    "end": max(len(found) - 1, 0),
                    "page": 0,
                    "page_size": 50,
                    "uri": uri,
                    "first_page_uri": uri,
                    "next_page_uri": None,
                    "previous_page_uri": None,
                }
            )

        @api.post(prefix + "/IncomingPhoneNumbers/{number_sid}.json")
        async def update_number(account_sid: str, number_sid: str, request: Request) -> Response:
            form = await record(request)
            if (answer := refused(request, account_sid)) is not None:
                return answer
            owned = {
                self.number_sid(number): number
                for number, owner in self.owners.items()
                if owner == account_sid
            }
            if number_sid not in owned:
                return JSONResponse(
                    {
                        "code": 20404,
                        "message": "The requested resource was not found",
                        "status": 404,
                    },
                    status_code=404,
                )
            body = self._number(owned[number_sid], account_sid) | {"voice_url": form["VoiceUrl"][0]}
            return JSONResponse(body)

        return api

    @contextlib.asynccontextmanager
    async def serving(self) -> AsyncIterator[str]:
        """Serve this fake on a free loopback port; yields (and keeps) its base URL."""
        async with serve(self.app()) as url:
            self.base_url = url
            yield url


def unreachable_url() -> tuple[socket.socket, str]:
    """A loopback port that is bound but never listens: connecting is refused at once
    (close the socket when done)."""
    sock = listener()
    return sock, f"http://127.0.0.1:{sock.getsockname()[1]}"


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
    received_mulaw: bytearray = field(default_factory=bytearray)
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
                    self.received_mulaw += audio
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
