"""Helpers the cloud STT contract tests share: the fakes served on a loopback port with
WebSocket support (denial responses included), real speech as PCM16, pushing audio the
way the engine does (20 ms frames), and collecting transcripts with a hang guard."""

from __future__ import annotations

import asyncio
import wave
from pathlib import Path

from callwright.providers.protocols import STTStream, Transcript
from tests.vendor_fakes import serve as serve  # the shared helper, for these tests

AUDIO = Path(__file__).resolve().parents[2] / "fixtures" / "audio"
FRAME_BYTES = 640  # 20 ms at 16 kHz, as a telephony transport delivers it


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
