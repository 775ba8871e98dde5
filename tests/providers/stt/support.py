"""Helpers the cloud STT contract tests share: the fakes served on a loopback port with
WebSocket support (denial responses included), real speech as PCM16, pushing audio the
way the engine does (20 ms frames), and collecting transcripts with a hang guard."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import wave
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import uvicorn

from callwright.providers.protocols import STTStream, Transcript

AUDIO = Path(__file__).resolve().parents[2] / "fixtures" / "audio"
FRAME_BYTES = 640  # 20 ms at 16 kHz, as a telephony transport delivers it


class _Server(uvicorn.Server):
    """uvicorn that leaves the test runner's signal handlers alone."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@contextlib.asynccontextmanager
async def serve(app: Any) -> AsyncIterator[str]:
    """Serve ``app`` (HTTP and WebSocket, with denial responses) on a free loopback
    port; yields ``http://127.0.0.1:<port>``."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    config = uvicorn.Config(
        app,
        lifespan="off",
        log_config=None,
        access_log=False,
        ws="websockets-sansio",
        timeout_graceful_shutdown=1,
    )
    server = _Server(config)
    try:
        async with asyncio.TaskGroup() as group:
            task = group.create_task(server.serve(sockets=[listener]))
            while not server.started:
                if task.done():
                    raise RuntimeError("the fake vendor did not start")
                await asyncio.sleep(0.005)
            try:
                yield f"http://127.0.0.1:{port}"
            finally:
                server.should_exit = True
    finally:
        listener.close()


def read_pcm16(name: str) -> bytes:
    with wave.open(str(AUDIO / name)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 16000)
        return wav.readframes(wav.getnframes())


def silence(seconds: float, sample_rate: int = 16000) -> bytes:
    return bytes(2 * int(seconds * sample_rate))


async def push(stream: STTStream, pcm16: bytes, frame_bytes: int = FRAME_BYTES) -> None:
    for start in range(0, len(pcm16), frame_bytes):
        await stream.push_audio(pcm16[start : start + frame_bytes])


async def collect(stream: STTStream, *, finals: int, timeout_s: float = 10.0) -> list[Transcript]:
    """Transcripts until ``finals`` finals have arrived (the timeout only catches hangs)."""
    seen: list[Transcript] = []
    async with asyncio.timeout(timeout_s):
        async for transcript in stream.transcripts():
            seen.append(transcript)
            if sum(t.is_final for t in seen) >= finals:
                break
    return seen


async def drain(stream: STTStream, timeout_s: float = 10.0) -> list[Transcript]:
    """Every transcript until ``transcripts()`` ends."""
    async with asyncio.timeout(timeout_s):
        return [transcript async for transcript in stream.transcripts()]
