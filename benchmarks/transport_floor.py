"""The floor under a phone call's CPU: what a server process spends receiving Twilio's
media stream before the platform does anything with it, and what Silero adds.

    .venv/bin/python benchmarks/transport_floor.py [--calls 100,200] [--seconds 30] \\
        [--stages receive,vad] [--server-cpus 0] [--client-cpus 1]

Each stage runs a server process of its own: uvicorn with uvloop and httptools and the
WebSocket implementation ``callwright serve`` uses, serving one FastAPI WebSocket route
that does only this:

- ``receive``: ``read_start``, then ``TwilioMediaStream.events()`` — every 20 ms
  ``media`` message read through the ASGI stack and parsed (JSON, base64, μ-law), as a
  call's receiving task does, and nothing done with the audio;
- ``vad``: the same, and the 8 kHz audio cut into Silero's 32 ms frames, each run
  through ``SileroVAD.probability`` (batched over the calls within 5 ms, as production
  runs it).

The callers are raw sockets in this process, on one 20 ms clock for all calls, each
sending pre-masked frames of a Twilio ``media`` message (a fixture sentence, then
silence, over and over), so that they take little of the machine. After every call is
connected and a warm-up, the server's CPU is read over ``--seconds``; the figure is
CPU-seconds per call-minute and the share of one core. ``model`` is Silero's
``InferenceSession.run`` alone in this process, per frame, at the batch size 5 ms of
N calls' frames makes.

What the full call costs (``load.py``'s *CPU s/call-min*) less these floors is the
platform's own work: the engine, the transcriber and voice streams, the records and
webhooks.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import platform
import secrets
import socket
import sys
import time
from pathlib import Path
from typing import Any, cast

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import psutil  # noqa: E402
from fastapi import FastAPI, WebSocket  # noqa: E402
from websockets.speedups import apply_mask  # noqa: E402

from callwright.audio.framing import FrameSplitter  # noqa: E402
from callwright.transports.protocol import AudioReceived  # noqa: E402
from callwright.transports.twilio.media_stream import TwilioMediaStream, read_start  # noqa: E402

FRAME_S = 0.02
VAD_RATE = 8_000
STAGES = ("receive", "vad")


# -- the server -------------------------------------------------------------------------


class _NoControl:
    async def hang_up(self) -> None:
        return None

    async def transfer(self, destination: str) -> None:
        return None


def floor_app(stage: str) -> FastAPI:
    app = FastAPI()
    vad_class: Any = None
    if stage == "vad":
        from callwright.providers.vad.silero import SileroVAD, load_model

        load_model()
        vad_class = SileroVAD

    @app.websocket("/stream")
    async def stream(websocket: WebSocket) -> None:
        await websocket.accept()
        start = await read_start(websocket)
        if start is None:
            await websocket.close()
            return
        media = TwilioMediaStream(websocket, start, _NoControl())
        if vad_class is None:
            async for _event in media.events():
                pass  # received and parsed: the floor of every call
            return
        vad = vad_class(VAD_RATE)
        frames = FrameSplitter(vad.frame_samples * 2)
        async for event in media.events():
            if isinstance(event, AudioReceived):
                for frame in frames.push(event.pcm16):
                    await vad.probability(frame)

    return app


def serve(stage: str, port: int) -> None:
    import uvicorn

    uvicorn.run(
        floor_app(stage),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        loop="uvloop",
        http="httptools",
    )


# -- the callers ------------------------------------------------------------------------


def media_messages(stream_sid: str) -> list[bytes]:
    """One loop of a caller's line: a fixture sentence, then as long in silence."""
    from load_caller import SILENCE_B64, load_clip

    payloads = [*load_clip("open_tomorrow.wav").payloads]
    payloads += [SILENCE_B64] * len(payloads)
    return [
        (
            f'{{"event":"media","sequenceNumber":"{n + 3}","media":{{"track":"inbound",'
            f'"chunk":"{n + 1}","timestamp":"{n * 20}","payload":"{payload}"}},'
            f'"streamSid":"{stream_sid}"}}'
        ).encode()
        for n, payload in enumerate(payloads)
    ]


def client_frame(payload: bytes) -> bytes:
    """A masked text frame (RFC 6455 §5.2: a client masks every frame)."""
    mask = secrets.token_bytes(4)
    length = len(payload)
    if length < 126:
        header = bytes((0x81, 0x80 | length))
    else:
        header = bytes((0x81, 0x80 | 126)) + length.to_bytes(2, "big")
    return header + mask + apply_mask(payload, mask)


class _Drain(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.upgraded = asyncio.get_running_loop().create_future()
        self._head = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not derive from asyncio.Transport: no isinstance here.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if not self.upgraded.done():
            self._head += data
            if b"\r\n\r\n" in self._head:
                self.upgraded.set_result(self._head.startswith(b"HTTP/1.1 101"))

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.upgraded.done():
            self.upgraded.set_result(False)


async def connect(port: int) -> tuple[_Drain, list[bytes]]:
    loop = asyncio.get_running_loop()
    _, caller = await loop.create_connection(_Drain, "127.0.0.1", port)
    key = base64.b64encode(secrets.token_bytes(16)).decode()
    assert caller.transport is not None
    caller.transport.write(
        (
            f"GET /stream HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    if not await asyncio.wait_for(caller.upgraded, 10):
        raise RuntimeError("the server refused the WebSocket upgrade")
    sid = "MZ" + secrets.token_hex(16)
    start = {
        "event": "start",
        "sequenceNumber": "1",
        "streamSid": sid,
        "start": {
            "streamSid": sid,
            "callSid": "CA" + secrets.token_hex(16),
            "accountSid": "AC" + secrets.token_hex(16),
            "tracks": ["inbound"],
            "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
        },
    }
    for message in ({"event": "connected", "protocol": "Call", "version": "1.0.0"}, start):
        caller.transport.write(client_frame(json.dumps(message).encode()))
    return caller, [client_frame(m) for m in media_messages(sid)]


async def drive(port: int, calls: int, seconds: float, server: psutil.Process) -> dict[str, Any]:
    callers = [await connect(port) for _ in range(calls)]
    me = psutil.Process()
    stop = False
    late = 0

    async def line() -> None:
        nonlocal late
        loop = asyncio.get_running_loop()
        due = loop.time()
        tick = 0
        while not stop:
            for caller, frames in callers:
                assert caller.transport is not None
                caller.transport.write(frames[tick % len(frames)])
            tick += 1
            due += FRAME_S
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            elif delay < -FRAME_S:
                late += 1

    async with asyncio.TaskGroup() as group:
        group.create_task(line())
        await asyncio.sleep(3.0)  # every call streaming, the server warm
        server_cpu = sum(server.cpu_times()[:2])
        client_cpu = sum(me.cpu_times()[:2])
        started = time.monotonic()
        await asyncio.sleep(seconds)
        wall = time.monotonic() - started
        server_cpu = sum(server.cpu_times()[:2]) - server_cpu
        client_cpu = sum(me.cpu_times()[:2]) - client_cpu
        stop = True
    for caller, _ in callers:
        assert caller.transport is not None
        caller.transport.close()
    call_minutes = calls * wall / 60
    return {
        "calls": calls,
        "seconds": round(wall, 1),
        "server_cpu_s_per_call_minute": round(server_cpu / call_minutes, 4),
        "server_cores": round(server_cpu / wall, 3),
        "callers_cpu_s_per_call_minute": round(client_cpu / call_minutes, 4),
        "callers_late_ticks": late,
    }


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def stage_run(args: argparse.Namespace, stage: str, calls: int) -> dict[str, Any]:
    port = free_port()
    argv = [sys.executable, __file__, "--serve", stage, "--port", str(port)]
    if args.server_cpus:
        argv = ["taskset", "-c", args.server_cpus, *argv]
    process = await asyncio.create_subprocess_exec(*argv)
    try:
        for _ in range(300):
            with contextlib.suppress(OSError):
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
                break
            await asyncio.sleep(0.1)
        return await drive(port, calls, args.seconds, psutil.Process(process.pid))
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 10)


# -- Silero's model alone -----------------------------------------------------------------


def model_per_frame(calls: int, window_s: float = 0.005, runs: int = 300) -> dict[str, Any]:
    from callwright.providers.vad.silero import load_model

    session = load_model()
    batch = max(1, round(calls * window_s / 0.032))
    inputs = (np.random.default_rng(0).standard_normal((batch, 32 + 256)) * 0.1).astype(np.float32)
    feed = {
        "input": inputs,
        "state": np.zeros((2, batch, 128), np.float32),
        "sr": np.array(VAD_RATE, np.int64),
    }
    for _ in range(20):
        session.run(None, feed)
    started = time.process_time()
    for _ in range(runs):
        session.run(None, feed)
    per_run = (time.process_time() - started) / runs
    frames_per_call_minute = 60 / 0.032
    return {
        "calls": calls,
        "batch": batch,
        "us_per_frame": round(per_run / batch * 1e6, 1),
        "cpu_s_per_call_minute": round(per_run / batch * frames_per_call_minute, 4),
    }


async def main(args: argparse.Namespace) -> None:
    if args.client_cpus:
        os.sched_setaffinity(0, {int(c) for c in args.client_cpus.split(",")})
    results: dict[str, Any] = {
        "measured_at": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
        "machine": f"{platform.machine()}, {psutil.cpu_count()} cores, "
        f"Python {platform.python_version()}",
        "load_average_before": [round(x, 2) for x in os.getloadavg()],
        "stages": {},
    }
    for stage in args.stages:
        for calls in args.calls:
            row = await stage_run(args, stage, calls)
            row["load_average"] = round(os.getloadavg()[0], 2)
            results["stages"].setdefault(stage, []).append(row)
            print(stage, json.dumps(row), flush=True)
    results["model"] = [model_per_frame(calls) for calls in args.calls]
    for row in results["model"]:
        print("model", json.dumps(row), flush=True)
    if args.out:
        args.out.write_text(json.dumps(results, indent=2) + "\n")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", default="100,200", type=lambda s: [int(x) for x in s.split(",")])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--stages", default="receive,vad", type=lambda s: s.split(","))
    parser.add_argument("--server-cpus", help="taskset list for the server, e.g. 0")
    parser.add_argument("--client-cpus", help="cores for this process (the callers), e.g. 1")
    parser.add_argument("--out", type=Path, help="write the figures as JSON here")
    parser.add_argument("--serve", choices=STAGES, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    for stage in args.stages:
        if stage not in STAGES:
            parser.error(f"--stages: unknown stage {stage!r} ({', '.join(STAGES)})")
    return args


if __name__ == "__main__":
    arguments = parse_args()
    if arguments.serve:
        serve(arguments.serve, arguments.port)
    else:
        import uvloop

        uvloop.run(main(arguments))
