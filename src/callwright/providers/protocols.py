"""The interfaces the call engine talks to. Each is a ``typing.Protocol`` with a few
async methods; streams are async iterators of small frozen dataclasses. Adapters
(one file per vendor) implement them; the engine never imports an adapter.

Audio crossing these interfaces is PCM16 little-endian mono unless a format says
otherwise (``callwright.audio.formats.AudioFormat``).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

__all__ = [
    "LLM",
    "STT",
    "TTS",
    "VAD",
    "ChatMessage",
    "Embeddings",
    "LLMEvent",
    "LLMRequest",
    "STTOptions",
    "STTStream",
    "TTSOptions",
    "TextDelta",
    "ToolCall",
    "ToolSpec",
    "Transcript",
    "Usage",
    "Word",
]

# -- LLM ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A function the model may call; ``parameters`` is a JSON Schema object."""

    name: str
    description: str
    parameters: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A complete tool call from the model; ``arguments`` is the raw JSON text."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class ChatMessage:
    role: Literal["system", "user", "assistant", "tool"]
    content: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None  # for role "tool": which call this answers


@dataclass(frozen=True, slots=True)
class LLMRequest:
    """One turn's request: the conversation so far and every llm_settings value."""

    messages: tuple[ChatMessage, ...]
    model: str | None = None
    tools: tuple[ToolSpec, ...] = ()
    temperature: float | None = None
    max_tokens: int | None = None
    top_p: float | None = None
    frequency_penalty: float | None = None
    presence_penalty: float | None = None
    stop: tuple[str, ...] = ()
    # llm_provider_config.custom_config: passed to the vendor as extra parameters.
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TextDelta:
    text: str


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int


LLMEvent = TextDelta | ToolCall | Usage


class LLM(Protocol):
    """A streaming chat model. ``stream`` yields text deltas as they arrive, complete
    tool calls once their arguments are whole, and usage last (when the vendor
    reports it). Errors are ``ProviderError``s; closing the generator (``aclose``)
    aborts the request, which is why it is an async generator, not any iterator."""

    name: str

    def stream(self, request: LLMRequest) -> AsyncGenerator[LLMEvent, None]: ...


# -- STT ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Word:
    text: str
    start_s: float
    end_s: float
    confidence: float = 1.0


@dataclass(frozen=True, slots=True)
class Transcript:
    """Interim (``is_final=False``, may be revised) or final text for a stretch of audio;
    times are seconds from the start of the stream."""

    text: str
    is_final: bool
    start_s: float
    end_s: float
    words: tuple[Word, ...] = ()
    confidence: float = 1.0


@dataclass(frozen=True, slots=True)
class STTOptions:
    """stt_settings, as every transcriber understands them. A keyword's intensifier
    says boost (> 0) or suppress (< 0); ``vendor`` holds the vendor's own options
    (``DeepgramOptions``: smart_format), built by its catalog entry
    (``providers.vendors``) and read only by its adapter."""

    model: str | None = None
    language: str | None = "en-US"
    punctuate: bool = True
    interim_results: bool = True
    keywords: tuple[tuple[str, float], ...] = ()  # (keyword, intensifier)
    keyterms: tuple[str, ...] = ()
    endpointing_ms: int = 500
    utterance_end_ms: int = 1000
    extra: Mapping[str, Any] = field(default_factory=dict)
    vendor: object = None


class STTStream(Protocol):
    """One open transcription stream: audio in (PCM16 at the STT's rate), transcripts out."""

    async def push_audio(self, pcm16: bytes) -> None: ...

    async def end_utterance(self) -> None:
        """The caller paused: finalise the current utterance now (Deepgram's
        ``Finalize``); its final transcript follows on ``transcripts``."""
        ...

    def discard_utterance(self) -> None:
        """The engine's voice activity detector heard no speech since the last final:
        drop the audio buffered for the current utterance (a short pre-roll may stay,
        for a first syllable the detector had not yet called speech). Called per
        silent frame between turns, so it must be cheap and must not block. A
        transcriber that re-reads its whole utterance (whisper, OpenAI's transcription
        endpoint) would otherwise transcribe the silence again at every final; one that
        streams to a vendor keeps nothing to drop and implements it as a no-op."""
        ...

    async def end_of_audio(self) -> None:
        """No more audio: finalise what is pending, then end ``transcripts``."""
        ...

    def transcripts(self) -> AsyncIterator[Transcript]: ...

    async def aclose(self) -> None: ...


class STT(Protocol):
    """A streaming transcriber."""

    name: str
    sample_rate: int

    async def open_stream(self, options: STTOptions) -> STTStream: ...


# -- TTS ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TTSOptions:
    """tts_settings, as every synthesiser understands them. ``vendor`` holds the
    vendor's own options (``ElevenLabsOptions``: stability, ...), built by its catalog
    entry (``providers.vendors``) and read only by its adapter; others ignore it."""

    voice_id: str | None = None
    model_id: str | None = None
    language: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    vendor: object = None


class TTS(Protocol):
    """A synthesiser. ``synthesize`` streams audio for one piece of text (a sentence)
    as PCM16 mono at ``sample_rate`` (the engine resamples or, better, the adapter asks
    its vendor for the transport's rate)."""

    name: str
    sample_rate: int

    def synthesize(self, text: str, options: TTSOptions) -> AsyncGenerator[bytes, None]: ...


# -- VAD and embeddings -------------------------------------------------------------


class VAD(Protocol):
    """Voice activity: the probability that a fixed-size frame holds speech. Cheap
    enough (well under a millisecond) to run on the event loop per frame; async so
    that an implementation may batch several calls' frames into one model run."""

    sample_rate: int
    frame_samples: int

    async def probability(self, pcm16_frame: bytes) -> float: ...

    def reset(self) -> None: ...


@runtime_checkable
class Embeddings(Protocol):
    """Text embeddings for retrieval; vectors are L2-normalised."""

    model: str
    dimensions: int

    async def embed(self, texts: Sequence[str]) -> list[list[float]]: ...
