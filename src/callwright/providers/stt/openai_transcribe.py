"""OpenAI transcription per utterance (``POST /v1/audio/transcriptions``), for the
``whisper`` transcriber of seed 001: ``whisper-1``, ``gpt-4o-transcribe`` or
``gpt-4o-mini-transcribe``, through the official ``openai`` SDK.

This is not a streaming API, so a stream buffers the caller's audio and, on
``end_utterance()`` (and ``end_of_audio()``), sends the utterance as a 16-bit mono WAV
in one multipart request (``file``, ``model``, ``language``, ``prompt``,
``response_format=json``) and emits its text as one final ``Transcript``. There are no
interims and no word timings (``json`` has neither; the transcript spans the
utterance). Like the local whisper, a stream drops its buffer on
``discard_utterance()``, which the engine calls while nobody speaks, so silence
between turns is never uploaded.

Options: ``model`` is used when it names an OpenAI transcription model, else the
STT's ``model``; ``language`` "en-US" is sent as ISO-639-1 "en"; keywords and keyterms
become the ``prompt`` (a vocabulary hint; intensifiers have no equivalent), after
``extra["prompt"]`` (or ``extra["initial_prompt"]``) when given; other ``extra``
entries are sent as further form fields (e.g. ``temperature``). Utterances shorter
than 0.1 s are not sent (OpenAI refuses them); one longer than ``max_utterance_s`` is
transcribed on its own in the background.
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
import wave
from collections.abc import AsyncIterator, Coroutine
from typing import Any, Final

import openai

from callwright.providers.catalog import Connection
from callwright.providers.common import (
    CONNECT_TIMEOUT_S,
    StreamQueue,
    translate_openai_error,
)
from callwright.providers.errors import ProviderError
from callwright.providers.protocols import STTOptions, Transcript
from callwright.security.outbound import OutboundPolicy

__all__ = ["OpenAITranscriptionSTT", "OpenAITranscriptionStream", "create", "wav_bytes"]

_PROVIDER: Final = "openai"
_DEFAULT_BASE_URL: Final = "https://api.openai.com/v1"
_MIN_UTTERANCE_S: Final = 0.1
_QUEUE_SIZE: Final = 16
_NOT_FORM_FIELDS: Final = frozenset({"audio_denoising", "prompt", "initial_prompt"})


def wav_bytes(pcm16: bytes, sample_rate: int) -> bytes:
    """PCM16 mono as a WAV file."""
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(sample_rate)
        wav.writeframes(pcm16)
    return out.getvalue()


class OpenAITranscriptionSTT:
    """OpenAI's transcription endpoint as an STT (one utterance per request).

    ``base_url``: OpenAI's (default ``https://api.openai.com/v1``), a compatible server
    or a fake. ``timeout_s``: the longest wait for one transcription. ``max_retries``:
    the SDK's own retries (0: the engine decides what a failure means for the call).
    """

    name = _PROVIDER

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str | None = None,
        model: str = "whisper-1",
        sample_rate: int = 16_000,
        timeout_s: float = 15.0,
        max_retries: int = 0,
        max_utterance_s: float = 60.0,
        pre_roll_s: float = 0.3,
        outbound: OutboundPolicy | None = None,
    ) -> None:
        if not api_key:
            raise ValueError("an OpenAI API key is required")
        self._api_key = api_key
        self._outbound = outbound
        self._base_url = base_url or _DEFAULT_BASE_URL
        self.model = model
        self.sample_rate = sample_rate
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.max_utterance_s = max_utterance_s
        self.pre_roll_s = pre_roll_s

    async def open_stream(self, options: STTOptions) -> OpenAITranscriptionStream:
        model = options.model or ""
        if not (model == "whisper-1" or "transcribe" in model):
            model = self.model
        request = _Request(model=model)
        if options.language:
            request.language = options.language.split("-")[0].lower()
        prompt = options.extra.get("prompt") or options.extra.get("initial_prompt")
        terms = [word for word, boost in options.keywords if boost > 0] + [*options.keyterms]
        parts = [str(prompt)] if prompt else []
        if terms:
            parts.append(", ".join(dict.fromkeys(terms)))
        if parts:
            request.prompt = " ".join(parts)
        extra = {k: v for k, v in options.extra.items() if k not in _NOT_FORM_FIELDS}
        client = openai.AsyncOpenAI(
            api_key=self._api_key,
            base_url=self._base_url,
            http_client=(
                openai.DefaultAsyncHttpxClient(transport=self._outbound.httpx2_transport())
                if self._outbound is not None
                else None
            ),
            max_retries=self.max_retries,
            timeout=openai.Timeout(self.timeout_s, connect=CONNECT_TIMEOUT_S),
        )
        return OpenAITranscriptionStream(self, client, request, extra)


@dataclasses.dataclass(slots=True)
class _Request:
    """The form fields every request of a stream carries."""

    model: str
    language: str | openai.Omit = openai.omit
    prompt: str | openai.Omit = openai.omit


class OpenAITranscriptionStream:
    """One call's transcription: utterances buffered, each sent when it ends (see the
    module docstring). Times are seconds of audio pushed since the stream opened."""

    def __init__(
        self,
        stt: OpenAITranscriptionSTT,
        client: openai.AsyncOpenAI,
        request: _Request,
        extra: dict[str, Any],
    ) -> None:
        self._stt, self._client = stt, client
        self._request, self._extra = request, extra
        self._transcripts: StreamQueue[Transcript] = StreamQueue(_QUEUE_SIZE)
        self._buffer = bytearray()
        self._utterance_start = 0  # samples pushed before the buffered utterance
        self._samples_pushed = 0
        self._order = asyncio.Lock()  # finals in utterance order
        self._tasks: set[asyncio.Task[None]] = set()  # over-long utterances in flight
        self._ending = self._closed = False
        self._error: ProviderError | None = None

    async def push_audio(self, pcm16: bytes) -> None:
        """Add PCM16 mono audio to the current utterance."""
        self._check_open("push_audio")
        if len(pcm16) % 2:
            raise ValueError("PCM16 audio must be a whole number of 2-byte samples")
        self._buffer += pcm16
        self._samples_pushed += len(pcm16) // 2
        if len(self._buffer) // 2 >= self._stt.max_utterance_s * self._stt.sample_rate:
            self._spawn(self._transcribe(*self._cut()))

    async def end_utterance(self) -> None:
        """Transcribe the buffered utterance; returns once its final is queued."""
        self._check_open("end_utterance")
        await self._transcribe(*self._cut())

    def discard_utterance(self) -> None:
        """Drop the buffered audio (it held no speech), keeping the last ``pre_roll_s``
        as the start of the next utterance."""
        keep = min(len(self._buffer), 2 * int(self._stt.pre_roll_s * self._stt.sample_rate))
        del self._buffer[: len(self._buffer) - keep]
        self._utterance_start = self._samples_pushed - keep // 2

    async def end_of_audio(self) -> None:
        """Transcribe what is buffered, then end ``transcripts()``."""
        if self._error is not None:
            raise self._error
        if self._ending or self._closed:
            return
        self._ending = True
        await self._transcribe(*self._cut())
        self._transcripts.finish()

    def transcripts(self) -> AsyncIterator[Transcript]:
        return self._transcripts

    async def aclose(self) -> None:
        """Cancel transcriptions in flight, close the HTTP client, end ``transcripts()``."""
        if self._closed:
            return
        self._closed = True
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks)
        await self._client.close()
        self._transcripts.discard()

    def _check_open(self, what: str) -> None:
        if self._error is not None:
            raise self._error
        if self._ending or self._closed:
            raise RuntimeError(f"{what} on a stream that has ended")

    def _cut(self) -> tuple[bytes, float]:
        pcm16, start_s = bytes(self._buffer), self._utterance_start / self._stt.sample_rate
        self._buffer.clear()
        self._utterance_start = self._samples_pushed
        return pcm16, start_s

    async def _transcribe(self, pcm16: bytes, start_s: float) -> None:
        duration_s = len(pcm16) / 2 / self._stt.sample_rate
        async with self._order:
            if duration_s < _MIN_UTTERANCE_S:
                return
            try:
                result = await self._client.audio.transcriptions.create(
                    file=("utterance.wav", wav_bytes(pcm16, self._stt.sample_rate), "audio/wav"),
                    model=self._request.model,
                    language=self._request.language,
                    prompt=self._request.prompt,
                    response_format="json",
                    extra_body=self._extra or None,
                )
            except openai.OpenAIError as exc:
                error = translate_openai_error(_PROVIDER, exc)
                self._error = self._error or error
                self._transcripts.finish(error)
                raise error from exc
            text = result.text.strip()
            if text:
                final = Transcript(text, True, start_s, start_s + duration_s)
                await self._transcripts.put(final)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled():
            task.exception()  # already reported through transcripts(): mark it retrieved


_TRANSCRIPTION_MODELS = ("whisper-1", "gpt-4o-transcribe", "gpt-4o-mini-transcribe")


def create(c: Connection) -> OpenAITranscriptionSTT:
    """The catalog's factory: the assistant's model when it is a transcription model."""
    model = c.model if c.model in _TRANSCRIPTION_MODELS else "whisper-1"
    return OpenAITranscriptionSTT(
        c.api_key,
        base_url=c.base_url,
        model=model,
        sample_rate=c.sample_rate,
        outbound=c.outbound,
    )
