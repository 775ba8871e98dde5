"""A call's voices as one: the assistant's voice, then the offline one.

When a voice fails a sentence (a ``ProviderError``, or no audio within the deadline
while another voice is left), the next voice speaks that sentence from its start, so
the caller hears all of it, and keeps speaking for the rest of the call: a voice that
changes back and forth is worse for the caller than one change, and a voice that has
just failed (or hung for its deadline) would likely cost every later sentence the
same wait. Audio comes out at the first voice's rate whoever speaks, so the session's
resampling to the transport does not change mid-call.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Sequence

from callwright.audio.resample import Resampler
from callwright.clock import Clock
from callwright.engine.deadlines import within
from callwright.engine.failover import FailoverSink
from callwright.providers.errors import ProviderError, ProviderTimeout
from callwright.providers.protocols import TTS, TTSOptions

__all__ = ["FallbackTTS"]

logger = logging.getLogger(__name__)


class FallbackTTS:
    """One voice that happens to be several (``voices``: the first speaks until it
    fails). ``first_audio_timeout_s`` bounds the wait for a sentence's first audio
    while a later voice remains; the last voice is given all the time it needs."""

    def __init__(
        self,
        voices: Sequence[TTS],
        clock: Clock,
        first_audio_timeout_s: float = 5.0,
        on_failover: FailoverSink | None = None,
    ) -> None:
        if not voices:
            raise ValueError("at least one voice is needed")
        self._voices = tuple(voices)
        self._clock = clock
        self._first_audio_timeout_s = first_audio_timeout_s
        self._on_failover = on_failover
        self._current = 0
        self.sample_rate = voices[0].sample_rate

    @property
    def name(self) -> str:
        """The voice speaking now."""
        return self._voices[self._current].name

    async def synthesize(self, text: str, options: TTSOptions) -> AsyncGenerator[bytes, None]:
        while True:
            voice = self._voices[self._current]
            last = self._current == len(self._voices) - 1
            to_rate = Resampler(voice.sample_rate, self.sample_rate)
            deadline = None if last else self._first_audio_timeout_s
            failure: ProviderError | None = None
            async with contextlib.aclosing(voice.synthesize(text, options)) as audio:
                while True:
                    # Only reading is guarded: an error while the caller closes this
                    # stream (a barge-in) must not start the next voice.
                    try:
                        chunk = await self._next_audio(audio, voice.name, deadline)
                    except ProviderError as error:
                        failure = error
                        break
                    if chunk is None:
                        break
                    deadline = None  # only the first audio is timed
                    yield to_rate.process(chunk)
            if failure is None:
                yield to_rate.process(b"", last=True)
                return
            if last:
                raise failure
            self._fail_over(voice.name, failure)

    async def _next_audio(
        self, audio: AsyncIterator[bytes], provider: str, deadline_s: float | None
    ) -> bytes | None:
        if deadline_s is None:
            return await anext(audio, None)
        try:
            return await within(self._clock, deadline_s, anext(audio, None))
        except TimeoutError:
            raise ProviderTimeout(provider, f"no audio within {deadline_s:g} s") from None

    def _fail_over(self, failed: str, error: ProviderError) -> None:
        self._current += 1
        replacement = self._voices[self._current].name
        logger.warning("voice %s failed (%s); %s speaks from now on", failed, error, replacement)
        if self._on_failover is not None:
            self._on_failover("tts", failed, error, replacement)
