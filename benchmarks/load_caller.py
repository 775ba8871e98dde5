"""The caller's side of the load test: Twilio's end of a phone call, timed.

A ``Caller`` is one Media Stream as Twilio runs it: a line that sends a 20 ms μ-law
frame every 20 ms (speech when a clip is queued, silence otherwise), and a player that
plays what arrives at real time, echoes marks once played and drops its buffer on
``clear``. ``one_call`` places a call through the signed voice webhook and runs the
conversation of ``load_server.SCRIPT`` on it, recording what the caller experiences.
Also here: fakes of Twilio's REST API and of the user's webhook endpoint.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import os
import socket
import subprocess
import time
import uuid
import wave
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import soxr
import uvicorn
import websockets
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from load_server import SCRIPT

from callwright.audio.codec import mulaw_encode
from callwright.transports.twilio.signature import twilio_signature

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "load-test-auth-token-0123456789"  # noqa: S105 - the fake account's
OUR_NUMBER = "+14155550199"
FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "audio"
FRAME_S = 0.02
FRAME_BYTES = 160
SILENCE = b"\xff" * FRAME_BYTES  # μ-law zero
SILENCE_B64 = base64.b64encode(SILENCE).decode()
QUIET_AFTER_REPLY_S = 0.8
WAIT_LIMIT_S = 20.0


# -- the caller's audio ---------------------------------------------------------------


@dataclass(frozen=True)
class Clip:
    """A fixture sentence as 20 ms μ-law frames, with where its speech starts/ends.

    ``vad_hangover_ms``: how much later than the acoustic end of speech (the last frame
    above -40 dBFS) Silero's last speech frame arrives on the line; the server's
    voice-to-voice starts there, the caller's at the acoustic end."""

    frames: tuple[bytes, ...]
    payloads: tuple[str, ...]  # the frames in base64, as media messages carry them
    speech_start: int
    speech_end: int  # index of the last frame with speech
    vad_hangover_ms: float = 0.0


def load_clip(name: str) -> Clip:
    with wave.open(str(FIXTURES / name), "rb") as wav:
        rate = wav.getframerate()
        pcm = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    at_8k = soxr.resample(pcm.astype(np.float32) / 32768.0, rate, 8000)
    pcm8 = (np.clip(at_8k, -1, 1) * 32767).astype("<i2")
    samples = FRAME_BYTES
    count = len(pcm8) // samples
    loud = [
        float(np.sqrt(np.mean((pcm8[i * samples : (i + 1) * samples] / 32768.0) ** 2))) > 0.01
        for i in range(count)
    ]  # -40 dBFS
    mulaw = mulaw_encode(pcm8[: count * samples].tobytes())
    frames = tuple(mulaw[i * FRAME_BYTES : (i + 1) * FRAME_BYTES] for i in range(count))
    speech_end = len(loud) - 1 - loud[::-1].index(True)
    payloads = tuple(base64.b64encode(frame).decode() for frame in frames)
    hangover = silero_hangover_ms(frames, speech_end)
    return Clip(frames, payloads, loud.index(True), speech_end, hangover)


def silero_hangover_ms(frames: tuple[bytes, ...], speech_end: int) -> float:
    """Replay the clip through the server's own intake (μ-law decode, 8 → 16 kHz,
    32 ms frames, Silero, the stop threshold) after a second of line silence; the line
    frame whose arrival completes Silero's last speech frame, against the last loud one."""
    from callwright.audio.codec import mulaw_decode
    from callwright.audio.framing import FrameSplitter
    from callwright.audio.resample import Resampler
    from callwright.providers.vad.silero import SileroVAD

    detector = SileroVAD(16_000)
    resampler = Resampler(8000, 16_000)
    splitter = FrameSplitter(2 * detector.frame_samples)
    last_speech_line_frame = None
    for index, frame in enumerate((SILENCE,) * 50 + frames):
        for vad_frame in splitter.push(resampler.process(mulaw_decode(frame))):
            if detector.speech_probability(vad_frame) >= 0.35:
                last_speech_line_frame = index - 50
    assert last_speech_line_frame is not None
    return float((last_speech_line_frame - speech_end) * FRAME_S * 1000)


# -- Twilio's REST API and the user's webhook receiver --------------------------------


def twilio_api(numbers: set[str]) -> FastAPI:
    """Twilio's REST API as far as number set-up and hang-up go."""
    api = FastAPI()
    prefix = f"/2010-04-01/Accounts/{ACCOUNT_SID}"

    @api.get(prefix + "/IncomingPhoneNumbers.json")
    async def list_numbers(request: Request) -> Response:
        number = request.query_params.get("PhoneNumber", "")
        found = [{"sid": "PN" + "1" * 32, "phone_number": number}] if number in numbers else []
        return JSONResponse({"incoming_phone_numbers": found})

    @api.post(prefix + "/IncomingPhoneNumbers/{number_sid}.json")
    async def update_number(number_sid: str, request: Request) -> Response:
        form = await request.form()
        return JSONResponse({"sid": number_sid, "voice_url": str(form.get("VoiceUrl", ""))})

    @api.post(prefix + "/Calls/{call_sid}.json")
    async def update_call(call_sid: str) -> Response:
        return JSONResponse({"sid": call_sid, "status": "completed"})

    return api


def webhook_receiver(counter: dict[str, int]) -> FastAPI:
    receiver = FastAPI()

    @receiver.post("/hook")
    async def hook(request: Request) -> Response:
        kind = json.loads(await request.body())["message"]["type"]
        counter[kind] = counter.get(kind, 0) + 1
        return Response(status_code=204)

    return receiver


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:
        pass


@contextlib.asynccontextmanager
async def serve_in_process(app: FastAPI) -> AsyncIterator[str]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, lifespan="off", log_config=None, access_log=False)
    server = _Server(config)
    try:
        async with asyncio.TaskGroup() as group:
            task = group.create_task(server.serve(sockets=[sock]))
            while not server.started:
                if task.done():
                    raise RuntimeError("an in-process server did not start")
                await asyncio.sleep(0.01)
            try:
                yield f"http://127.0.0.1:{sock.getsockname()[1]}"
            finally:
                server.should_exit = True
    finally:
        sock.close()


# -- one call ---------------------------------------------------------------------------


@dataclass
class CallResult:
    call_sid: str
    ok: bool = False
    error: str | None = None
    v2v_ms: list[float] = field(default_factory=list)
    hangover_ms: list[float] = field(default_factory=list)
    jitter_ms: list[float] = field(default_factory=list)
    underruns: int = 0
    sentence_gaps: int = 0
    clear_after_speech_ms: float | None = None
    seconds: float = 0.0
    late_frames: int = 0


class Caller:
    """Twilio's end of one Media Stream: a line sending a frame every 20 ms (speech when
    there is some queued, silence otherwise), and a player that plays what arrives at
    real time, echoes marks once played and drops its buffer on ``clear``."""

    def __init__(self, websocket: Any, stream_sid: str, tts_interval_s: float) -> None:
        self.ws = websocket
        self.stream_sid = stream_sid
        self.tts_interval_s = tts_interval_s
        self.queue: list[tuple[str, Callable[[float], None] | None]] = []
        self.sequence = 1
        self.closed = asyncio.Event()
        self.hung_up = False
        self.arrivals: list[float] = []
        self.playout_end = 0.0
        self.last_media_at = 0.0
        self.pending_marks: list[tuple[float, str]] = []
        self.segment: list[float] = []
        self.clears: list[float] = []
        self.result: CallResult | None = None

    def _next(self) -> str:
        self.sequence += 1
        return str(self.sequence)

    async def send(self, message: dict[str, Any]) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            await self.ws.send(json.dumps(message))

    async def line(self, result: CallResult) -> None:
        due = time.monotonic()
        chunk = 0
        while not self.hung_up and not self.closed.is_set():
            now = time.monotonic()
            for entry in [m for m in self.pending_marks if m[0] <= now]:
                self.pending_marks.remove(entry)
                await self._echo(entry[1])
            payload, on_sent = self.queue.pop(0) if self.queue else (SILENCE_B64, None)
            chunk += 1
            # Twilio's media message, formatted by hand: the load generator shares the
            # machine with the server, so its per-frame cost is kept small.
            with contextlib.suppress(websockets.ConnectionClosed):
                await self.ws.send(
                    f'{{"event":"media","sequenceNumber":"{self._next()}","media":'
                    f'{{"track":"inbound","chunk":"{chunk}","timestamp":"{(chunk - 1) * 20}",'
                    f'"payload":"{payload}"}},"streamSid":"{self.stream_sid}"}}'
                )
            if on_sent is not None:
                on_sent(now)
            due += FRAME_S
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            elif delay < -FRAME_S:
                result.late_frames += 1  # the load generator itself fell behind

    async def listen(self, result: CallResult) -> None:
        try:
            async for raw in self.ws:
                now = time.monotonic()
                message = json.loads(raw)
                kind = message.get("event")
                if kind == "media":
                    payload = message["media"]["payload"]
                    # Decoded length from the base64 text alone: 3 bytes per 4 characters.
                    seconds = (len(payload) * 3 // 4 - payload.count("=", -2)) / 8000
                    if self.segment and now > self.playout_end:
                        result.underruns += 1  # audible gap inside a sentence
                    elif not self.segment and self.arrivals and now > self.playout_end > 0:
                        result.sentence_gaps += 1  # between sentences: provider-paced
                    self.arrivals.append(now)
                    self.segment.append(now)
                    self.playout_end = max(self.playout_end, now) + seconds
                    self.last_media_at = now
                elif kind == "mark":
                    self._close_segment(result)
                    self.pending_marks.append((max(self.playout_end, now), message["mark"]["name"]))
                elif kind == "clear":
                    self.clears.append(now)
                    self.segment = []
                    self.playout_end = now
                    for _, name in self.pending_marks:
                        await self._echo(name)
                    self.pending_marks.clear()
        except websockets.ConnectionClosed:
            pass
        finally:
            self.closed.set()

    def _close_segment(self, result: CallResult) -> None:
        # The last message of a sentence is the resampler's flush, sent at once.
        times = self.segment[:-1]
        for earlier, later in itertools.pairwise(times):
            result.jitter_ms.append(abs((later - earlier) - self.tts_interval_s) * 1000)
        self.segment = []

    async def _echo(self, name: str) -> None:
        await self.send(
            {
                "event": "mark",
                "sequenceNumber": self._next(),
                "streamSid": self.stream_sid,
                "mark": {"name": name},
            }
        )

    async def say(self, clip: Clip) -> tuple[float, float]:
        """Queue a clip on the line; returns when its last frame went out, with the
        times its first and last speech frames were sent."""
        sent: dict[str, float] = {}
        done = asyncio.get_running_loop().create_future()

        def mark(name: str) -> Callable[[float], None]:
            def record(at: float) -> None:
                sent[name] = at
                if name == "last" and not done.done():
                    done.set_result(None)

            return record

        for index, frame in enumerate(clip.payloads):
            hook = None
            if index == clip.speech_start:
                hook = mark("start")
            elif index == clip.speech_end:
                hook = mark("end")
            if index == len(clip.frames) - 1:
                previous = hook

                def last(at: float, previous: Callable[[float], None] | None = previous) -> None:
                    if previous is not None:
                        previous(at)
                    mark("last")(at)

                hook = last
            self.queue.append((frame, hook))
        await asyncio.wait_for(done, WAIT_LIMIT_S)
        return sent["start"], sent["end"]

    def first_audio_after(self, at: float) -> float | None:
        return next((t for t in self.arrivals if t >= at), None)

    async def wait_for(self, condition: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + WAIT_LIMIT_S
        while not condition():
            if self.closed.is_set():
                raise RuntimeError(f"the stream closed while waiting for {what}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {what} within {WAIT_LIMIT_S:g} s")
            await asyncio.sleep(0.02)

    async def reply_played(self, since: float) -> None:
        """The reply that started after ``since`` has been played out to its end."""

        def done() -> bool:
            now = time.monotonic()
            return (
                self.first_audio_after(since) is not None
                and now >= self.playout_end
                and not self.pending_marks
                and now - self.last_media_at >= QUIET_AFTER_REPLY_S
            )

        await self.wait_for(done, "end of the reply")


async def one_call(
    base_url: str, clips: dict[str, Clip], tts_interval_s: float, start_at: float
) -> CallResult:
    call_sid = "CA" + uuid.uuid4().hex
    result = CallResult(call_sid)
    await asyncio.sleep(max(0.0, start_at - time.monotonic()))
    started = time.monotonic()
    try:
        stream_url, parameters = await voice_webhook(base_url, call_sid)
        async with websockets.connect(stream_url, compression=None, max_size=None) as ws:
            caller = Caller(ws, "MZ" + uuid.uuid4().hex, tts_interval_s)
            await caller.send({"event": "connected", "protocol": "Call", "version": "1.0.0"})
            await caller.send(
                {
                    "event": "start",
                    "sequenceNumber": "1",
                    "start": {
                        "accountSid": ACCOUNT_SID,
                        "streamSid": caller.stream_sid,
                        "callSid": call_sid,
                        "tracks": ["inbound"],
                        "customParameters": parameters,
                        "mediaFormat": {
                            "encoding": "audio/x-mulaw",
                            "sampleRate": 8000,
                            "channels": 1,
                        },
                    },
                    "streamSid": caller.stream_sid,
                }
            )
            async with asyncio.TaskGroup() as group:
                listener = group.create_task(caller.listen(result))
                line = group.create_task(caller.line(result))
                try:
                    await converse(caller, clips, result, started)
                    await caller.send(
                        {
                            "event": "stop",
                            "sequenceNumber": caller._next(),
                            "streamSid": caller.stream_sid,
                            "stop": {"accountSid": ACCOUNT_SID, "callSid": call_sid},
                        }
                    )
                    caller.hung_up = True
                    await asyncio.wait_for(caller.closed.wait(), 10)
                finally:
                    caller.hung_up = True
                    line.cancel()
                    if not listener.done():
                        await ws.close()
        result.ok = True
    except Exception as exc:  # noqa: BLE001 - a failed call is a result, not a crash
        while isinstance(exc, ExceptionGroup):
            exc = exc.exceptions[0]
        result.error = f"{type(exc).__name__}: {exc}"
    result.seconds = time.monotonic() - started
    return result


async def converse(caller: Caller, clips: dict[str, Clip], result: CallResult, t0: float) -> None:
    await caller.reply_played(t0)  # the greeting
    previous_end = 0.0
    for index, turn in enumerate(SCRIPT):
        clip = clips[turn.clip]
        if turn.barge_in_after_s is None:
            speech_start, speech_end = await caller.say(clip)
        else:
            # Talk over the previous reply, this long after its first audio arrived.
            heard_from = caller.first_audio_after(previous_end)
            assert heard_from is not None
            await asyncio.sleep(max(0.0, heard_from + turn.barge_in_after_s - time.monotonic()))
            clears = len(caller.clears)
            speech_start, speech_end = await caller.say(clip)
            if len(caller.clears) == clears:
                raise RuntimeError(f"turn {index + 1}: talking over the reply did not stop it")
            result.clear_after_speech_ms = (caller.clears[clears] - speech_start) * 1000
        await caller.wait_for(
            lambda end=speech_end: caller.first_audio_after(end) is not None,
            f"turn {index + 1}'s reply",
        )
        first = caller.first_audio_after(speech_end)
        assert first is not None
        result.v2v_ms.append((first - speech_end) * 1000)
        result.hangover_ms.append(clip.vad_hangover_ms)
        previous_end = speech_end
        next_turn = SCRIPT[index + 1] if index + 1 < len(SCRIPT) else None
        if next_turn is None or next_turn.barge_in_after_s is None:
            await caller.reply_played(speech_end)
    caller._close_segment(result)


async def voice_webhook(base_url: str, call_sid: str) -> tuple[str, dict[str, str]]:

    params = {
        "AccountSid": ACCOUNT_SID,
        "CallSid": call_sid,
        "From": "+1415555" + str(uuid.uuid4().int % 10_000).zfill(4),
        "To": OUR_NUMBER,
        "CallStatus": "ringing",
        "Direction": "inbound",
        "ApiVersion": "2010-04-01",
    }
    url = base_url + "/telephony/twilio/voice"
    headers = {"X-Twilio-Signature": twilio_signature(AUTH_TOKEN, url, params.items())}
    async with httpx.AsyncClient(timeout=30) as client:
        answer = await client.post(url, data=params, headers=headers)
    answer.raise_for_status()
    root = ET.fromstring(answer.text)  # noqa: S314 - our own server's TwiML
    stream = root.find("./Connect/Stream")
    if stream is None:
        reject = root.find("./Reject")
        reason = reject.get("reason") if reject is not None else answer.text
        raise RuntimeError(f"the call was refused: {reason}")
    parameters = {p.get("name", ""): p.get("value", "") for p in stream.findall("Parameter")}
    return stream.get("url", ""), parameters


async def spawn_server(argv: list[str], log: Path) -> asyncio.subprocess.Process:
    """A benchmark's server as a child process, its output in ``log``: with none of this
    environment's callwright settings, database or Redis (the server gets only what
    ``argv`` says; no provider key reaches it)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLWRIGHT_")}
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    with log.open("wb") as out:
        return await asyncio.create_subprocess_exec(
            *argv, stdout=out, stderr=subprocess.STDOUT, env=env
        )
