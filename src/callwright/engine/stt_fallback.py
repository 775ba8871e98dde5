"""A call's transcribers as one: the assistant's, then the offline one.

Vendor streams reconnect on their own where their protocol allows (Deepgram replays
what no final covers yet); once one gives up, its ``ProviderError`` would leave the
caller unheard for the rest of the call. ``FallbackSTTStream`` instead opens the next
transcriber and carries on with it until the call ends:

- a failure seen while sending audio or asking for a final only marks the stream
  failed and closes it; the reader of ``transcripts()`` opens the next transcriber, so
  the audio path never waits for a model to load or a connection to open;
- audio keeps being kept while that happens: everything since the last final (up to
  ``replay_s``) is replayed into the new stream, so the utterance in progress when the
  failure hit is still heard, and a final asked for meanwhile is asked for again.

Only when no transcriber is left does the error reach the session (and end the call).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Sequence

from callwright.audio.resample import Resampler
from callwright.engine.failover import FailoverSink
from callwright.providers.errors import ProviderError, ProviderUnavailable
from callwright.providers.protocols import STT, STTOptions, STTStream, Transcript

__all__ = ["FallbackSTT", "FallbackSTTStream"]

logger = logging.getLogger(__name__)

# Kept when the session drops silence between turns: a first syllable that the voice
# activity detector had not yet called speech.
_PRE_ROLL_S = 0.3


class FallbackSTT:
    """One transcriber that happens to be several (``transcribers``, in order). Audio
    is taken at the first one's rate and resampled for the others."""

    def __init__(
        self,
        transcribers: Sequence[STT],
        on_failover: FailoverSink | None = None,
        *,
        replay_s: float = 10.0,
    ) -> None:
        if not transcribers:
            raise ValueError("at least one transcriber is needed")
        self._transcribers = tuple(transcribers)
        self._on_failover = on_failover
        self._replay_s = replay_s
        self.name = transcribers[0].name
        self.sample_rate = transcribers[0].sample_rate

    async def open_stream(self, options: STTOptions) -> FallbackSTTStream:
        stream = FallbackSTTStream(
            self._transcribers, options, self.sample_rate, self._on_failover, self._replay_s
        )
        await stream.open()
        return stream


class FallbackSTTStream:
    """The call's transcription stream over whichever transcriber serves it now
    (``provider``)."""

    def __init__(
        self,
        transcribers: tuple[STT, ...],
        options: STTOptions,
        sample_rate: int,
        on_failover: FailoverSink | None,
        replay_s: float,
    ) -> None:
        self._transcribers = transcribers
        self._options = options
        self._sample_rate = sample_rate
        self._on_failover = on_failover
        self._max_recent = 2 * int(replay_s * sample_rate)
        self._pre_roll = 2 * int(_PRE_ROLL_S * sample_rate)
        self._index = -1
        self._stream: STTStream | None = None
        self._to_current = Resampler(sample_rate, sample_rate)
        # Audio since the last final (bounded), and how much was ever kept: what a new
        # stream is given, and how the replay knows that more arrived meanwhile.
        self._recent = bytearray()
        self._kept = 0
        self._finalising = False  # a final was asked for and has not arrived
        self._failure: ProviderError | None = None  # set until the next stream is open
        self._closed = False

    @property
    def provider(self) -> str:
        """The transcriber serving the call now."""
        return self._transcribers[max(self._index, 0)].name

    async def open(self) -> None:
        """Open the first transcriber that opens (each failure reported)."""
        await self._open_next(None, None)

    async def _open_next(self, failed: str | None, error: ProviderError | None) -> None:
        """Open the transcribers after the current one until one opens, reporting the
        one that failed and each that would not open with what replaced it."""
        while self._index + 1 < len(self._transcribers):
            self._index += 1
            candidate = self._transcribers[self._index]
            if failed is not None and error is not None:
                self._report(failed, error, candidate.name)
            try:
                stream = await candidate.open_stream(self._options)
            except ProviderError as exc:
                failed, error = candidate.name, exc
                continue
            self._stream = stream
            self._to_current = Resampler(self._sample_rate, candidate.sample_rate)
            return
        # Nothing left: at least one transcriber was tried, so both are known.
        assert failed is not None
        assert error is not None
        self._report(failed, error, None)
        raise error

    def _report(self, failed: str, error: ProviderError, replacement: str | None) -> None:
        logger.warning("transcriber %s failed (%s); now: %s", failed, error, replacement)
        if self._on_failover is not None:
            self._on_failover("stt", failed, error, replacement)

    # -- the session's side -----------------------------------------------------------

    async def push_audio(self, pcm16: bytes) -> None:
        self._keep(pcm16)
        stream = self._stream
        if self._failure is not None or stream is None:
            return  # the next transcriber gets it from the replay
        try:
            await stream.push_audio(self._to_current.process(pcm16))
        except ProviderError as error:
            await self._mark_failed(stream, error)

    async def end_utterance(self) -> None:
        self._finalising = True
        stream = self._stream
        if self._failure is not None or stream is None:
            return  # asked again of the next transcriber once it is open
        try:
            await stream.end_utterance()
        except ProviderError as error:
            await self._mark_failed(stream, error)

    def discard_utterance(self) -> None:
        """Silence between turns: no need to replay it (a short pre-roll stays)."""
        del self._recent[: max(0, len(self._recent) - self._pre_roll)]
        if self._stream is not None and self._failure is None:
            self._stream.discard_utterance()

    async def end_of_audio(self) -> None:
        if self._stream is not None and self._failure is None:
            await self._stream.end_of_audio()

    async def transcripts(self) -> AsyncIterator[Transcript]:
        while self._stream is not None:
            try:
                async for transcript in self._stream.transcripts():
                    if transcript.is_final:
                        self._recent.clear()
                        self._finalising = False
                    yield transcript
            except ProviderError as exc:
                self._failure = self._failure or exc
            if self._closed:
                return
            failure = self._failure or ProviderUnavailable(self.provider, "the stream ended")
            self._failure = failure
            await _close_quietly(self._stream)
            await self._open_next(self.provider, failure)
            await self._resume()

    async def aclose(self) -> None:
        self._closed = True
        if self._stream is not None:
            await self._stream.aclose()

    # -- failing over -----------------------------------------------------------------

    def _keep(self, pcm16: bytes) -> None:
        self._recent += pcm16
        self._kept += len(pcm16)
        # Trimmed an eighth at a time, not per frame: a long monologue would otherwise
        # move the whole buffer on every 20 ms of audio.
        if len(self._recent) > self._max_recent + self._max_recent // 8:
            del self._recent[: len(self._recent) - self._max_recent]

    async def _mark_failed(self, stream: STTStream, error: ProviderError) -> None:
        """Leave the switch to the reader of ``transcripts()``: closing the stream ends
        its transcripts, which wakes the reader. A late error from a stream already
        replaced changes nothing."""
        if stream is self._stream and self._failure is None:
            self._failure = error
            await _close_quietly(stream)

    async def _resume(self) -> None:
        """Give the new stream what it missed, then let audio through again."""
        assert self._stream is not None
        sent = self._kept - len(self._recent)
        try:
            while sent < self._kept:
                missed = min(self._kept - sent, len(self._recent))
                sent = self._kept
                missed_audio = bytes(self._recent[-missed:])
                await self._stream.push_audio(self._to_current.process(missed_audio))
            if self._finalising:
                await self._stream.end_utterance()
        except ProviderError as error:
            await _close_quietly(self._stream)
            self._failure = error  # the reader's next pass moves on again
            return
        self._failure = None


async def _close_quietly(stream: STTStream) -> None:
    """Close a stream that failed: its own complaint about closing adds nothing."""
    with contextlib.suppress(ProviderError):
        await stream.aclose()
