"""What a session reports: typed events, the reasons a call ends, per-turn timings.

Events go to an ``EventSink`` (a plain callable that must not block: the session calls
it on the audio path; persistence drains a queue elsewhere).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

__all__ = [
    "AssistantMessage",
    "CallEnded",
    "EndReason",
    "EventSink",
    "IdleReprompt",
    "Interruption",
    "KnowledgeUsed",
    "LlmError",
    "Passage",
    "ProviderFailed",
    "SessionEvent",
    "SpeechStarted",
    "SpeechStopped",
    "ToolAnswered",
    "ToolCalled",
    "TranscriptFinal",
    "TranscriptPartial",
    "TurnTiming",
    "UserMessage",
]


class EndReason(StrEnum):
    """Why a call ended (the values of the call record's ``end_reason``)."""

    CUSTOMER_ENDED_CALL = "customer-ended-call"
    ASSISTANT_ENDED_CALL = "assistant-ended-call"
    ASSISTANT_SAID_END_CALL_PHRASE = "assistant-said-end-call-phrase"
    CUSTOMER_SAID_END_CALL_PHRASE = "customer-said-end-call-phrase"
    SILENCE_TIMED_OUT = "silence-timed-out"
    EXCEEDED_MAX_DURATION = "exceeded-max-duration"
    VOICEMAIL = "voicemail"
    ASSISTANT_FORWARDED_CALL = "assistant-forwarded-call"
    PIPELINE_ERROR = "pipeline-error"
    # Every LLM failed on max_error_messages + 1 replies in a row (Vapi names its own
    # "pipeline-error-<vendor>-llm-failed"; this is the vendor-neutral form).
    LLM_FAILED = "pipeline-error-llm-failed"
    TRANSPORT_DROPPED = "transport-dropped"
    MANUALLY_CANCELED = "manually-canceled"
    CUSTOMER_BUSY = "customer-busy"
    CUSTOMER_DID_NOT_ANSWER = "customer-did-not-answer"
    CARRIER_FAILED_TO_CONNECT = "twilio-failed-to-connect-call"
    SERVER_SHUTDOWN = "server-shutdown"
    SERVER_RESTARTED = "server-restarted"
    # An inbound call to a number whose assistant is not active (``is_active: false``).
    ASSISTANT_NOT_ACTIVE = "assistant-not-active"


@dataclass(frozen=True, slots=True)
class SpeechStarted:
    at: float


@dataclass(frozen=True, slots=True)
class SpeechStopped:
    at: float


@dataclass(frozen=True, slots=True)
class TranscriptPartial:
    text: str
    at: float


@dataclass(frozen=True, slots=True)
class TranscriptFinal:
    text: str
    at: float


@dataclass(frozen=True, slots=True)
class UserMessage:
    """A committed caller turn, as sent to the LLM. ``continues``: the caller went on
    before hearing any answer to their previous turn (the answer was withdrawn), and
    this text is that turn with what they added: it replaces it. ``aside``: said over
    the assistant without interrupting it; not answered, but given to the LLM with the
    caller's next turn."""

    text: str
    at: float
    continues: bool = False
    aside: bool = False


@dataclass(frozen=True, slots=True)
class AssistantMessage:
    """What the assistant said: ``text`` is what the caller heard (all of it unless
    ``interrupted``); ``intended`` is what it meant to say. ``apology_for`` marks the
    error_message said because no LLM could give the reply: it holds the error."""

    text: str
    intended: str
    interrupted: bool
    at: float
    apology_for: str | None = None


@dataclass(frozen=True, slots=True)
class ToolCalled:
    """The model called a tool (built-in or custom); ``arguments`` is its JSON text."""

    call_id: str
    name: str
    arguments: str
    at: float


@dataclass(frozen=True, slots=True)
class ToolAnswered:
    """A custom tool's result, as given back to the model."""

    call_id: str
    result: str
    at: float


@dataclass(frozen=True, slots=True)
class Passage:
    """A knowledge-base passage given to the model for one turn; ``text`` is what the
    model saw (with its source line when rag_settings.include_metadata is on)."""

    text: str
    score: float
    chunk_id: int
    document_id: int
    source: str | None = None
    tokens: int = 0


@dataclass(frozen=True, slots=True)
class KnowledgeUsed:
    """Retrieval for a user turn: the query, the passages added to the LLM request
    (possibly none) and how long retrieval took."""

    query: str
    passages: tuple[Passage, ...]
    at: float
    took_s: float


@dataclass(frozen=True, slots=True)
class ProviderFailed:
    """A transcriber or voice failed during the call and ``replacement`` took over for
    the rest of it (None: nothing was left to take over)."""

    kind: str  # "stt" | "tts"
    provider: str
    error: str
    replacement: str | None
    at: float


@dataclass(frozen=True, slots=True)
class Interruption:
    at: float
    heard: str


@dataclass(frozen=True, slots=True)
class IdleReprompt:
    count: int
    at: float


@dataclass(frozen=True, slots=True)
class CallEnded:
    reason: EndReason
    at: float
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class LlmError:
    """One LLM that failed a turn (an error, no first token in time, an empty answer)."""

    provider: str
    error: str


@dataclass(slots=True)
class TurnTiming:
    """One turn's milestones on the session clock (``None`` where a stage did not
    happen). The platform's share of a turn is everything between the caller
    stopping and the first frame out, minus the providers' own time."""

    turn: int
    user_stopped_at: float | None = None
    end_of_turn_at: float | None = None
    stt_final_at: float | None = None
    llm_request_at: float | None = None
    llm_first_token_at: float | None = None
    first_sentence_at: float | None = None
    tts_request_at: float | None = None
    tts_first_audio_at: float | None = None
    first_frame_out_at: float | None = None
    playback_confirmed_at: float | None = None
    # Who served the turn: the LLM that answered (None: none did), the voice that spoke
    # its first audio, the transcriber that heard the caller's words.
    llm_provider: str | None = None
    tts_provider: str | None = None
    stt_provider: str | None = None
    # The LLMs that failed this turn before one answered (or before giving up).
    llm_errors: list[LlmError] = field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    marks: list[str] = field(default_factory=list)
    # Pre-emptive generation (turn_detection: smart): whether the answer's LLM request
    # was started before the turn was taken, and how many such early requests were
    # dropped during this turn because the caller went on (wasted LLM requests).
    preempted: bool = False
    preemptions_wasted: int = 0


SessionEvent = (
    SpeechStarted
    | SpeechStopped
    | TranscriptPartial
    | TranscriptFinal
    | UserMessage
    | AssistantMessage
    | Interruption
    | ToolCalled
    | ToolAnswered
    | KnowledgeUsed
    | ProviderFailed
    | IdleReprompt
    | CallEnded
    | TurnTiming
)
EventSink = Callable[[SessionEvent], None]
