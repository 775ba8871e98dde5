"""Scripted providers for tests and the simulator: deterministic on any clock.

The fake caller's "speech" is loud audio; silence is zeros. ``EnergyVAD`` hears the
difference, ``ScriptedSTT`` turns each stretch of speech into the next scripted
utterance (interim words as the caller talks, the whole text as final),
``ScriptedLLM`` answers from a script and records every request it received, and
``ToneTTS`` produces audio whose length follows the text. ``fail_with`` makes the
transcriber's stream or the voice fail, as a vendor's outage would.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from callwright.audio.loudness import pcm16_rms_dbfs
from callwright.clock import Clock
from callwright.providers.protocols import (
    LLMEvent,
    LLMRequest,
    STTOptions,
    TextDelta,
    ToolCall,
    Transcript,
    TTSOptions,
    Usage,
)

__all__ = [
    "EnergyVAD",
    "FailsAfter",
    "Hang",
    "ScriptedLLM",
    "ScriptedSTT",
    "ToneTTS",
    "speech",
]

SAMPLE_RATE = 16_000
_LOUD_DBFS = -30.0


def speech(seconds: float, sample_rate: int = SAMPLE_RATE) -> bytes:
    """Loud PCM16 (a 220 Hz tone) that the fake VAD and STT take for speech."""
    samples = int(seconds * sample_rate)
    t = np.arange(samples) / sample_rate
    return (np.sin(2 * np.pi * 220 * t) * 8000).astype("<i2").tobytes()


def _is_loud(pcm16: bytes) -> bool:
    return bool(pcm16) and pcm16_rms_dbfs(pcm16) > _LOUD_DBFS


@dataclass(eq=False)  # a detector is one call's: compared and hashed by identity
class EnergyVAD:
    """Speech probability 1.0 for loud frames, 0.0 otherwise (32 ms frames at 16 kHz
    by default; ``EnergyVAD(8_000, 256)`` hears a phone line as Silero's 8 kHz model)."""

    sample_rate: int = SAMPLE_RATE
    frame_samples: int = 512

    def speech_probability(self, pcm16_frame: bytes) -> float:
        return 1.0 if _is_loud(pcm16_frame) else 0.0

    async def probability(self, pcm16_frame: bytes) -> float:
        return self.speech_probability(pcm16_frame)

    def reset(self) -> None:
        return None


class _ScriptedStream:
    def __init__(self, owner: ScriptedSTT) -> None:
        self._owner = owner
        self._queue: asyncio.Queue[Transcript | None] = asyncio.Queue(maxsize=256)
        self._spoken_s = 0.0
        self._words_sent = 0
        self._elapsed_s = 0.0

    def _current(self) -> list[str]:
        return self._owner.utterances[0].split() if self._owner.utterances else []

    async def push_audio(self, pcm16: bytes) -> None:
        if self._owner.fail_with is not None:
            raise self._owner.fail_with
        duration = len(pcm16) / 2 / self._owner.sample_rate
        self._elapsed_s += duration
        if not _is_loud(pcm16):
            return
        self._owner.speech_heard_s += duration
        self._spoken_s += duration
        words = self._current()
        count = min(len(words), int(self._spoken_s * self._owner.words_per_second))
        if count > self._words_sent:
            self._words_sent = count
            text = " ".join(words[:count])
            await self._queue.put(Transcript(text, False, 0.0, self._elapsed_s))

    async def end_utterance(self) -> None:
        if self._spoken_s == 0 or not self._owner.utterances:
            return
        await self._owner.clock.sleep(self._owner.final_latency_s)
        text = self._owner.utterances.popleft()
        self._owner.finals.append(text)
        self._spoken_s, self._words_sent = 0.0, 0
        await self._queue.put(Transcript(text, True, 0.0, self._elapsed_s))

    def discard_utterance(self) -> None:
        """Nothing to drop: only loud audio counts towards an utterance."""

    async def end_of_audio(self) -> None:
        await self.end_utterance()
        await self._queue.put(None)

    async def transcripts(self) -> AsyncIterator[Transcript]:
        while (item := await self._queue.get()) is not None:
            yield item

    async def aclose(self) -> None:
        with contextlib.suppress(asyncio.QueueFull):
            self._queue.put_nowait(None)


@dataclass
class ScriptedSTT:
    """Each stretch of caller speech becomes the next of ``utterances``. While
    ``fail_with`` is set, streams refuse audio with it and new ones do not open."""

    clock: Clock
    utterances: deque[str]
    words_per_second: float = 3.0
    final_latency_s: float = 0.1
    name: str = "scripted-stt"
    sample_rate: int = SAMPLE_RATE
    opened_with: list[STTOptions] = field(default_factory=list)
    finals: list[str] = field(default_factory=list)
    speech_heard_s: float = 0.0  # loud audio pushed to any of its streams
    fail_with: Exception | None = None

    @classmethod
    def saying(cls, clock: Clock, *utterances: str, **kwargs: float) -> ScriptedSTT:
        return cls(clock, deque(utterances), **kwargs)  # type: ignore[arg-type]

    async def open_stream(self, options: STTOptions) -> _ScriptedStream:
        self.opened_with.append(options)
        if self.fail_with is not None:
            raise self.fail_with
        return _ScriptedStream(self)


@dataclass(frozen=True, slots=True)
class Hang:
    """A scripted reply that never produces a first token."""


@dataclass(frozen=True, slots=True)
class FailsAfter:
    """A scripted reply that streams ``text`` and then fails with ``error``."""

    text: str
    error: Exception


Reply = str | Sequence[ToolCall] | Exception | Hang | FailsAfter | Callable[[LLMRequest], str]


@dataclass
class ScriptedLLM:
    """Answers turn by turn from ``replies``; records the requests it received."""

    clock: Clock
    replies: list[Reply]
    first_token_s: float = 0.2
    token_s: float = 0.02
    name: str = "scripted-llm"
    requests: list[LLMRequest] = field(default_factory=list)

    async def stream(self, request: LLMRequest) -> AsyncGenerator[LLMEvent, None]:
        self.requests.append(request)
        reply: Reply = self.replies.pop(0) if self.replies else "I see."
        if isinstance(reply, Exception):
            await self.clock.sleep(self.first_token_s / 2)
            raise reply
        if isinstance(reply, Hang):
            await self.clock.sleep(10**6)
            return
        await self.clock.sleep(self.first_token_s)
        if callable(reply):
            reply = reply(request)
        if isinstance(reply, FailsAfter):
            async for delta in self._tokens(reply.text):
                yield delta
            raise reply.error
        if isinstance(reply, str):
            tokens = reply.split(" ")
            async for delta in self._tokens(reply):
                yield delta
            yield Usage(
                prompt_tokens=sum(len((m.content or "").split()) for m in request.messages),
                completion_tokens=len(tokens),
            )
            return
        for call in reply:
            yield call

    async def _tokens(self, text: str) -> AsyncIterator[TextDelta]:
        for index, token in enumerate(text.split(" ")):
            if index:
                await self.clock.sleep(self.token_s)
            yield TextDelta(token if index == 0 else " " + token)


@dataclass
class ToneTTS:
    """Audio of ``seconds_per_char`` per character, after ``first_audio_s``. While
    ``fail_with`` is set, each sentence fails with it after ``fail_after_chunks``
    chunks of audio."""

    clock: Clock
    first_audio_s: float = 0.1
    seconds_per_char: float = 0.06
    chunk_s: float = 0.1
    name: str = "tone-tts"
    sample_rate: int = SAMPLE_RATE
    requests: list[tuple[str, TTSOptions]] = field(default_factory=list)
    fail_with: Exception | None = None
    fail_after_chunks: int = 0

    async def synthesize(self, text: str, options: TTSOptions) -> AsyncGenerator[bytes, None]:
        self.requests.append((text, options))
        await self.clock.sleep(self.first_audio_s)
        audio = speech(len(text) * self.seconds_per_char, self.sample_rate)
        step = int(self.chunk_s * self.sample_rate) * 2
        for index, offset in enumerate(range(0, len(audio), step)):
            if self.fail_with is not None and index == self.fail_after_chunks:
                raise self.fail_with
            yield audio[offset : offset + step]
            await self.clock.sleep(0)
