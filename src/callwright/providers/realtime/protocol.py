"""What the engine's realtime session talks to: a speech-to-speech model over one
connection per call (decision 018).

``RealtimeModel.connect(options)`` opens a ``RealtimeConnection``, set up with the
call's instructions, voice, audio format, turn detection and tools. The session then
``send``s commands and reads ``events()``; both are small frozen dataclasses, the same
for every vendor. A vendor without a command's equivalent makes it a no-op. Failures
are ``ProviderError``s: raised by ``connect`` and ``send``, or ending ``events()``.

Audio crossing the connection is in the wire format the options name
(``RealtimeAudio``): G.711 μ-law at 8 kHz, or PCM16 little-endian mono at 24 kHz.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from callwright.providers.protocols import ToolSpec

__all__ = [
    "AppendAudio",
    "AudioOut",
    "CallerSpeechStarted",
    "CallerSpeechStopped",
    "CallerText",
    "CallerTranscript",
    "CallerTurnCommitted",
    "CancelResponse",
    "RealtimeAudio",
    "RealtimeCommand",
    "RealtimeConnection",
    "RealtimeEvent",
    "RealtimeModel",
    "RealtimeNotice",
    "RealtimeOptions",
    "Respond",
    "ResponseDone",
    "ToolCallRequested",
    "ToolOutput",
    "TranscriptOut",
    "Truncate",
    "TurnDetection",
    "sample_rate_of",
]

RealtimeAudio = Literal["pcmu", "pcm24"]
"""The wire audio: ``pcmu`` G.711 μ-law 8 kHz (phone calls, no resampling), ``pcm24``
PCM16 24 kHz (browser calls)."""

TurnDetection = Literal["server_vad", "semantic_vad"]


def sample_rate_of(audio: RealtimeAudio) -> int:
    return 8_000 if audio == "pcmu" else 24_000


@dataclass(frozen=True, slots=True)
class RealtimeOptions:
    """One call's set-up. ``silence_ms`` and ``prefix_padding_ms`` apply to
    ``server_vad``, ``eagerness`` to ``semantic_vad``; ``transcription_model`` None
    leaves the caller's side untranscribed; ``vendor`` holds the vendor's own options."""

    instructions: str | None = None
    voice: str | None = None
    model: str | None = None
    audio: RealtimeAudio = "pcmu"
    turn_detection: TurnDetection = "server_vad"
    silence_ms: int = 500
    prefix_padding_ms: int = 300
    eagerness: Literal["low", "medium", "high", "auto"] = "auto"
    transcription_model: str | None = "gpt-4o-mini-transcribe"
    language: str | None = None
    tools: tuple[ToolSpec, ...] = ()
    max_output_tokens: int | None = None
    # The caller's side, where the vendor takes it (OpenAI): words the transcription is
    # told to expect, and noise reduction of the caller's audio.
    transcription_prompt: str | None = None
    noise_reduction: Literal["near_field", "far_field"] | None = None
    # Sampling, for a vendor whose session takes it (Gemini Live; not OpenAI's GA API).
    temperature: float | None = None
    top_p: float | None = None
    vendor: Mapping[str, Any] = field(default_factory=dict)


# -- commands (session → model) ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AppendAudio:
    """Caller audio in the wire format."""

    audio: bytes


@dataclass(frozen=True, slots=True)
class Respond:
    """Answer now; ``instructions`` replace the session's for this answer only (fixed
    text the model is asked to say)."""

    instructions: str | None = None


@dataclass(frozen=True, slots=True)
class CancelResponse:
    """Stop the answer in progress (the caller barged in)."""


@dataclass(frozen=True, slots=True)
class Truncate:
    """The caller heard only the first ``audio_end_ms`` of the item ``item_id``: the
    model forgets the rest."""

    item_id: str
    audio_end_ms: int


@dataclass(frozen=True, slots=True)
class CallerText:
    """Something the caller did that the model cannot hear (keys pressed), as a user
    message in the conversation (answered by a ``Respond``)."""

    text: str


@dataclass(frozen=True, slots=True)
class ToolOutput:
    """A function call's result, given back to the model (answered by a ``Respond``)."""

    call_id: str
    output: str


RealtimeCommand = AppendAudio | Respond | CancelResponse | Truncate | ToolOutput | CallerText


# -- events (model → session) -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CallerSpeechStarted:
    """The model's VAD heard the caller start; ``audio_ms`` into the caller's audio."""

    audio_ms: int


@dataclass(frozen=True, slots=True)
class CallerSpeechStopped:
    audio_ms: int


@dataclass(frozen=True, slots=True)
class CallerTurnCommitted:
    """The caller's turn ended (the model's turn detection); ``item_id`` is its item.
    ``answer_id``: a vendor that answers the caller by itself (Gemini) names the answer
    it has begun, the item of its ``AudioOut`` / ``TranscriptOut`` / ``ResponseDone``,
    which the session ignores if it does not want that turn answered."""

    item_id: str
    answer_id: str | None = None


@dataclass(frozen=True, slots=True)
class CallerTranscript:
    """The caller's words for the turn ``item_id`` (the transcription runs beside the
    model and may arrive after the answer started)."""

    item_id: str
    text: str


@dataclass(frozen=True, slots=True)
class AudioOut:
    """The model's speech for the item ``item_id``, in the wire format."""

    item_id: str
    audio: bytes


@dataclass(frozen=True, slots=True)
class TranscriptOut:
    """Text of what the model is saying in the item ``item_id`` (a delta)."""

    item_id: str
    text: str


@dataclass(frozen=True, slots=True)
class ToolCallRequested:
    """The model calls a function; ``arguments`` is its JSON text."""

    call_id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class ResponseDone:
    """An answer ended: ``status`` completed, cancelled, failed or incomplete;
    ``item_id`` names it where the vendor's answers can begin unasked (Gemini)."""

    status: str
    input_tokens: int = 0
    output_tokens: int = 0
    item_id: str | None = None


@dataclass(frozen=True, slots=True)
class RealtimeNotice:
    """A recoverable error the vendor reported; the session goes on."""

    message: str


RealtimeEvent = (
    CallerSpeechStarted
    | CallerSpeechStopped
    | CallerTurnCommitted
    | CallerTranscript
    | AudioOut
    | TranscriptOut
    | ToolCallRequested
    | ResponseDone
    | RealtimeNotice
)


class RealtimeConnection(Protocol):
    """One call's connection to the model."""

    async def send(self, command: RealtimeCommand) -> None: ...

    def events(self) -> AsyncIterator[RealtimeEvent]: ...

    async def aclose(self) -> None: ...


class RealtimeModel(Protocol):
    """A speech-to-speech model; ``name`` is its vendor."""

    name: str

    async def connect(self, options: RealtimeOptions) -> RealtimeConnection: ...
