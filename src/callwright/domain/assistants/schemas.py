"""The Assistant resource: exactly the fields and defaults of seed 000 (Get Assistant),
in its order, followed by the optional fields callwright adds from the other seeds.

Every model rejects unknown fields, so a typo is a 422 naming the field rather than a
setting silently ignored.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from callwright.domain.analysis.plan import AnalysisPlan
from callwright.domain.types import E164Number, ExternalId, NonEmptyStr, OutboundUrlString
from callwright.engine.phrases import words_of
from callwright.providers.vendors import CATALOG

__all__ = [
    "DEFAULT_ERROR_MESSAGE",
    "DEFAULT_IDLE_MESSAGE",
    "DEFAULT_SYSTEM_PROMPT",
    "AssistantFields",
    "AssistantIn",
    "AssistantMode",
    "AssistantPatch",
    "AssistantResponse",
    "EmbeddingModel",
    "FirstMessageMode",
    "LlmProvider",
    "RealtimeProvider",
    "RealtimeSettings",
    "SttEndpointing",
    "TtsProvider",
]

DEFAULT_SYSTEM_PROMPT = "You are a helpful assistant that can answer questions and help with tasks."
DEFAULT_IDLE_MESSAGE = "Are you still there? I'm here to help if you need anything."
DEFAULT_ERROR_MESSAGE = (
    "I'm sorry, I'm having trouble answering right now. Could you say that again?"
)

# The vendors the catalog lists (providers.vendors), as the schema's enums.
if TYPE_CHECKING:
    LlmProvider = str
    TtsProvider = str
    RealtimeProvider = str
else:
    LlmProvider = Literal[CATALOG.names("llm")]
    TtsProvider = Literal[CATALOG.names("tts")]
    RealtimeProvider = Literal[CATALOG.names("realtime")]
EmbeddingModel = Literal[
    "text-embedding-3-small",
    "text-embedding-3-large",
    "text-embedding-ada-002",
    "all-MiniLM-L6-v2",
]
ChunkingStrategy = Literal["recursive", "fixed", "sentence", "markdown"]
FirstMessageMode = Literal[
    "assistant-speaks-first",
    "assistant-waits-for-user",
    "assistant-speaks-first-with-model-generated-message",
]
AssistantMode = Literal["pipeline", "realtime"]

ShortText = Annotated[str, Field(max_length=10_000)]
Name = Annotated[str, Field(min_length=1, max_length=200)]
Unit = Annotated[float, Field(ge=0, le=1)]
Penalty = Annotated[float, Field(ge=-2, le=2)]
Phrase = Annotated[str, Field(min_length=1, max_length=100)]
Milliseconds = Annotated[int, Field(ge=0, le=60_000)]
FreeForm = dict[str, Any]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


class LlmProviderConfig(Strict):
    """Connection to the LLM provider. ``api_key`` is encrypted at rest and masked."""

    api_key: Annotated[str, Field(max_length=4096)] | None = None
    base_url: OutboundUrlString | None = None
    model: Annotated[str, Field(min_length=1, max_length=200)] | None = "gpt-4o-mini"
    custom_config: FreeForm = Field(default_factory=dict)


class TwilioConfig(Strict):
    """The assistant's own Twilio account. ``auth_token`` is encrypted and masked."""

    account_sid: Annotated[str, Field(pattern=r"^AC[0-9a-fA-F]{32}$")] | None = None
    auth_token: Annotated[str, Field(max_length=256)] | None = None


class LlmSettings(Strict):
    """Sent to the LLM on every turn."""

    temperature: Annotated[float, Field(ge=0, le=2)] = 0.5
    max_tokens: Annotated[int, Field(ge=1, le=200_000)] = 1000
    system_prompt: ShortText | None = DEFAULT_SYSTEM_PROMPT
    welcome_message: ShortText | None = None
    top_p: Unit = 1
    frequency_penalty: Penalty = 0
    presence_penalty: Penalty = 0
    stop_sequences: Annotated[list[NonEmptyStr], Field(max_length=16)] = Field(default_factory=list)


class InterruptionSettings(Strict):
    """Barge-in: words or seconds of caller speech that stop the assistant.

    callwright's additions, after Vapi's stopSpeakingPlan: speech made only of
    ``acknowledgement_phrases`` ("mhmm", "yeah") never stops the assistant, one of the
    ``interruption_phrases`` ("stop", "wait") stops it below the thresholds. Null takes
    the list for ``stt_settings.language`` (``engine.phrases``); a list replaces it.
    After a barge-in whose speech gives no words (a noise, a cough, a backchannel)
    within ``false_interruption_timeout`` seconds of the caller falling quiet, the
    assistant says the rest of what it was saying; null (the default) leaves silence.
    """

    interruption_threshold: Annotated[int, Field(ge=0, le=100)] = 3
    min_speaking_time: Annotated[float, Field(ge=0, le=10)] = 0.5
    interruption_cooldown: Annotated[float, Field(ge=0, le=60)] = 2
    acknowledgement_phrases: Annotated[list[Phrase], Field(max_length=200)] | None = None
    interruption_phrases: Annotated[list[Phrase], Field(max_length=200)] | None = None
    false_interruption_timeout: Annotated[float, Field(gt=0, le=10)] | None = None

    @field_validator("acknowledgement_phrases", "interruption_phrases")
    @classmethod
    def _phrases_have_words(cls, phrases: list[str] | None) -> list[str] | None:
        for index, phrase in enumerate(phrases or ()):
            if not words_of(phrase):
                raise ValueError(f"phrase {index} ({phrase!r}) has no letter or digit")
        return phrases


class TtsSettings(Strict):
    """Synthesis: provider, voice and the voice's parameters."""

    provider: TtsProvider = "elevenlabs"
    voice_id: Annotated[str, Field(min_length=1, max_length=200)] | None = "rachel"
    model_id: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    latency: Annotated[int, Field(ge=0, le=4)] = 1
    stability: Unit = 0.5
    similarity_boost: Unit = 0.75
    style: Unit = 0
    use_speaker_boost: bool = True
    provider_config: FreeForm = Field(default_factory=dict)

    @field_validator("provider", mode="before")
    @classmethod
    def _supported_provider(cls, value: Any) -> Any:
        # Seed 001 lists voices callwright does not speak (edmo): name them and the ones
        # it does, rather than fail later, mid-call.
        if isinstance(value, str) and value not in CATALOG.names("tts"):
            supported = ", ".join(CATALOG.names("tts"))
            raise ValueError(f"voice provider {value!r} is not supported; use one of {supported}")
        return value


class SttEndpointing(Strict):
    """When a pause ends the caller's turn (milliseconds)."""

    silence_threshold: Milliseconds = 500
    min_silence_duration: Milliseconds = 500


class SttKeyword(Strict):
    keyword: Annotated[str, Field(min_length=1, max_length=100)]
    intensifier: Annotated[float, Field(ge=-10, le=10)] = 1


class SttSettings(Strict):
    """Transcription: model, language, endpointing and recognition boosts."""

    model: Annotated[str, Field(min_length=1, max_length=100)] | None = "nova-2"
    language: Annotated[str, Field(pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")] | None = "en-US"
    punctuate: bool = True
    interim_results: bool = True
    endpointing: SttEndpointing = Field(default_factory=SttEndpointing)
    utterance_end_ms: Milliseconds = 1000
    vad_turnoff: Milliseconds = 500
    smart_format: bool = True
    keywords: Annotated[list[SttKeyword], Field(max_length=200)] = Field(default_factory=list)
    keyterms: Annotated[list[NonEmptyStr], Field(max_length=100)] = Field(default_factory=list)
    audio_denoising: bool = False
    # How a pause is judged: "silence" waits endpointing.silence_threshold after the
    # last speech; "smart" asks whether the caller is done (their words so far and the
    # Smart Turn audio model) and waits briefly when they are, up to utterance_end_ms
    # when they are not (engine.smart_turn).
    turn_detection: Literal["silence", "smart"] = "silence"


class EndCallTool(Strict):
    enabled: bool = False
    scenarios: Annotated[list[NonEmptyStr], Field(max_length=50)] = Field(default_factory=list)
    custom_message: ShortText | None = None


class TransferCallTool(Strict):
    enabled: bool = False
    scenarios: Annotated[list[NonEmptyStr], Field(max_length=50)] = Field(default_factory=list)
    transfer_numbers: Annotated[list[E164Number], Field(max_length=50)] = Field(
        default_factory=list
    )
    custom_message: ShortText | None = None


class ToolsSettings(Strict):
    """Built-in tools (end call, transfer call) and custom function tools."""

    enabled_tools: Annotated[list[NonEmptyStr], Field(max_length=100)] = Field(default_factory=list)
    end_call: EndCallTool = Field(default_factory=EndCallTool)
    transfer_call: TransferCallTool = Field(default_factory=TransferCallTool)
    custom_tools: Annotated[list[FreeForm], Field(max_length=100)] = Field(default_factory=list)


class RagSettings(Strict):
    """Retrieval from the assistant's knowledge base."""

    enabled: bool = False
    search_limit: Annotated[int, Field(ge=1, le=50)] = 3
    similarity_threshold: Unit = 0.7
    embedding_model: EmbeddingModel = "text-embedding-3-small"
    chunking_strategy: ChunkingStrategy = "recursive"
    chunk_size: Annotated[int, Field(ge=50, le=20_000)] = 1000
    chunk_overlap: Annotated[int, Field(ge=0, le=10_000)] = 200
    auto_process: bool = True
    include_metadata: bool = True
    context_window_tokens: Annotated[int, Field(ge=100, le=1_000_000)] = 4000


class LlmFallback(Strict):
    provider: LlmProvider
    api_key: Annotated[str, Field(max_length=4096)] | None = None
    base_url: OutboundUrlString | None = None
    model: Annotated[str, Field(min_length=1, max_length=200)] | None = None


class LlmFallbackProviders(Strict):
    """Providers that answer the same turn when the primary fails or is slow."""

    enabled: bool = False
    fallbacks: Annotated[list[LlmFallback], Field(max_length=5)] = Field(default_factory=list)


class RealtimeSettings(Strict):
    """Realtime mode (``mode: realtime``, decision 018): the speech-to-speech model that
    replaces the transcriber, the LLM and the voice. The prompt, welcome, tools,
    endpointing silence and interruption settings act as in pipeline mode. ``api_key``
    is encrypted at rest and masked; with none, the organization's and then the
    server's key for the provider serve."""

    provider: RealtimeProvider = "openai"
    model: Annotated[str, Field(min_length=1, max_length=200)] | None = "gpt-realtime"
    voice: Annotated[str, Field(min_length=1, max_length=200)] | None = "marin"
    api_key: Annotated[str, Field(max_length=4096)] | None = None
    base_url: OutboundUrlString | None = None
    turn_detection: Literal["server_vad", "semantic_vad"] = "server_vad"
    eagerness: Literal["low", "medium", "high", "auto"] = "auto"
    transcription_model: Annotated[str, Field(min_length=1, max_length=200)] | None = (
        "gpt-4o-mini-transcribe"
    )


class AssistantFields(Strict):
    """Every writable field except ``name``, with its default."""

    description: Annotated[str, Field(max_length=2000)] | None = None
    llm_provider: LlmProvider | None = "openai"
    llm_provider_config: LlmProviderConfig = Field(default_factory=LlmProviderConfig)
    twilio_config: TwilioConfig = Field(default_factory=TwilioConfig)
    llm_settings: LlmSettings = Field(default_factory=LlmSettings)
    webhook_url: OutboundUrlString | None = None
    interruption_settings: InterruptionSettings = Field(default_factory=InterruptionSettings)
    tts_settings: TtsSettings = Field(default_factory=TtsSettings)
    stt_settings: SttSettings = Field(default_factory=SttSettings)
    end_call_message: ShortText | None = None
    transfer_call_message: ShortText | None = None
    idle_message: ShortText | None = DEFAULT_IDLE_MESSAGE
    max_idle_messages: Annotated[int, Field(ge=0, le=100)] | None = 2
    idle_timeout: Annotated[int, Field(ge=1, le=3600)] | None = 30
    tools_settings: ToolsSettings = Field(default_factory=ToolsSettings)
    rag_settings: RagSettings = Field(default_factory=RagSettings)
    llm_fallback_providers: LlmFallbackProviders = Field(default_factory=LlmFallbackProviders)
    custom_settings: FreeForm | None = Field(default_factory=dict)
    # Nullable in the seed's response; a write must say true or false.
    is_active: bool = True
    # Added by callwright from seeds 001, 002 and 004.
    external_id: ExternalId | None = None
    first_message_mode: FirstMessageMode = "assistant-speaks-first"
    voicemail_message: ShortText | None = None
    end_call_phrases: Annotated[list[NonEmptyStr], Field(max_length=50)] = Field(
        default_factory=list
    )
    max_duration_seconds: Annotated[int, Field(ge=10, le=43_200)] | None = 1800
    # Like idle_message / max_idle_messages: said when every LLM failed a reply (the
    # caller's next turn tries again); after max_error_messages in a row, the next
    # failure ends the call with end_call_message.
    error_message: ShortText | None = DEFAULT_ERROR_MESSAGE
    max_error_messages: Annotated[int, Field(ge=0, le=100)] = 2
    metadata: FreeForm = Field(default_factory=dict)
    filler_words_enabled: bool = False
    filler_words: Annotated[list[NonEmptyStr], Field(max_length=50)] = Field(default_factory=list)
    dynamic_welcome_message: ShortText | None = None
    maintain_context: bool = False
    mode: AssistantMode = "pipeline"
    realtime_settings: RealtimeSettings = Field(default_factory=RealtimeSettings)
    end_call_trigger_phrase: Annotated[str, Field(min_length=1, max_length=500)] | None = None
    end_call_url: OutboundUrlString | None = None
    tool_ids: Annotated[list[Annotated[int, Field(ge=1, le=2**63 - 1)]], Field(max_length=100)] = (
        Field(default_factory=list)
    )
    analysis_plan: AnalysisPlan | None = None


class AssistantIn(AssistantFields):
    """Body of create (POST) and replace (PUT): fields left out take their defaults."""

    name: Name


class AssistantPatch(AssistantFields):
    """Body of PATCH: only the fields sent change; nested objects merge, lists replace.

    This model documents the body; the service merges the raw body into the stored
    assistant and validates the result as an ``AssistantIn``.
    """

    name: Name | None = None


class AssistantResponse(BaseModel):
    """Schema for assistant response (seed 000), plus callwright's additions."""

    name: str
    description: str | None
    llm_provider: str | None
    llm_provider_config: LlmProviderConfig
    twilio_config: TwilioConfig
    llm_settings: LlmSettings
    webhook_url: str | None
    interruption_settings: InterruptionSettings
    tts_settings: TtsSettings
    stt_settings: SttSettings
    end_call_message: str | None
    transfer_call_message: str | None
    idle_message: str | None
    max_idle_messages: int | None
    idle_timeout: int | None
    tools_settings: ToolsSettings
    rag_settings: RagSettings
    llm_fallback_providers: LlmFallbackProviders
    custom_settings: FreeForm | None
    is_active: bool | None
    external_id: str | None
    first_message_mode: FirstMessageMode
    voicemail_message: str | None
    end_call_phrases: list[str]
    max_duration_seconds: int | None
    error_message: str | None
    max_error_messages: int
    metadata: FreeForm
    filler_words_enabled: bool
    filler_words: list[str]
    dynamic_welcome_message: str | None
    maintain_context: bool
    mode: AssistantMode
    realtime_settings: RealtimeSettings
    end_call_trigger_phrase: str | None
    end_call_url: str | None
    tool_ids: list[int]
    analysis_plan: AnalysisPlan | None = None
    id: int
    organization_id: int
    user_id: int | None
    created_at: datetime
    updated_at: datetime
