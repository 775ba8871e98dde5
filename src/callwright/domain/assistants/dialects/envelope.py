"""Seed 002's dialect: a flat snake_case assistant inside a ``{success, data}`` envelope.

Mappings (dialect <-> canonical):

- ``id`` <- ``str(id)``; ``created_at`` / ``updated_at`` <- ISO-8601 with ``Z``. All
  three are read-only: ignored on import.
- ``system_prompt``, ``welcome_message``, ``max_tokens``, ``temperature`` <->
  ``llm_settings``; ``ai_provider`` <-> ``llm_provider``; ``model`` <->
  ``llm_provider_config.model``.
- ``voice.provider`` <-> ``tts_settings.provider`` (callwright's names);
  ``voice.name`` <-> ``voice_id``; ``voice.tts_model`` <-> ``model_id``;
  ``voice.stability`` / ``voice.similarity_boost`` 1:1. ``voice.language`` renders the
  STT language (callwright has one language per assistant) and is read on import only
  when ``transcription.language`` is absent. ``voice.speed`` and ``voice.instructions``
  have no canonical field: rendered null, ignored on import.
- ``transcription.provider`` is derived from ``stt_settings.model`` exactly as in the
  Vapi dialect, and on import must be deepgram, assemblyai or whisper.
  ``transcription.language`` <-> ``stt_settings.language``. ``transcription.deepgram``
  carries the STT settings whatever the provider, since the seed has no vendor-neutral
  slot: ``model`` <-> ``stt_settings.model``, ``utterance_end_ms`` 1:1, ``endpointing``
  <-> ``endpointing.silence_threshold``, ``vad_events`` is always true (the endpointer
  is voice-activity driven) and ``diarize`` always false. ``mode``, ``prompt`` and the
  cartesia / gladia / smallest_ai blocks have no canonical data: rendered null,
  ignored on import.
- ``maximum_duration`` <-> ``max_duration_seconds``; ``silence_timeout`` <->
  ``idle_timeout``; ``inactivity_message`` <-> ``idle_message``;
  ``timeout_end_message`` <-> ``end_call_message``; ``maintain_context`` and
  ``filler_words_enabled`` 1:1; ``filler_words`` is the list joined by ", " (split on
  commas on import).
- ``dynamic_welcome_enabled`` <- ``dynamic_welcome_message is not None``; on import a
  disabled dynamic welcome drops its message (callwright has no separate switch).
- ``selected_tools`` <-> ``tool_ids`` as digit strings.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from callwright.domain.assistants.schemas import LlmProvider, TtsProvider
from callwright.providers.vendors import stt_cloud_vendor

from ._shared import (
    CanonicalBuilder,
    DialectModel,
    SttProvider,
    expect_bool,
    expect_str,
    fail,
    ids_from_strings,
    iso_timestamp,
    lookup,
    stt_model_on_import,
    unwrap_data,
)

__all__ = [
    "EnvelopeAssistant",
    "EnvelopeAssistantData",
    "EnvelopeAssistantList",
    "EnvelopeDeepgram",
    "EnvelopeTranscription",
    "EnvelopeVoice",
    "render",
    "render_data",
    "render_list",
    "to_canonical",
]

_FILLER_SEPARATOR = ", "

# Fields copied as they are: (dialect path, canonical path). Order matters where two
# dialect fields feed one canonical field: the later one wins.
_DIRECT = (
    ("name", "name"),
    ("system_prompt", "llm_settings.system_prompt"),
    ("welcome_message", "llm_settings.welcome_message"),
    ("ai_provider", "llm_provider"),
    ("model", "llm_provider_config.model"),
    ("max_tokens", "llm_settings.max_tokens"),
    ("temperature", "llm_settings.temperature"),
    ("voice.provider", "tts_settings.provider"),
    ("voice.name", "tts_settings.voice_id"),
    ("voice.language", "stt_settings.language"),
    ("voice.stability", "tts_settings.stability"),
    ("voice.similarity_boost", "tts_settings.similarity_boost"),
    ("voice.tts_model", "tts_settings.model_id"),
    ("transcription.language", "stt_settings.language"),
    ("transcription.deepgram.utterance_end_ms", "stt_settings.utterance_end_ms"),
    ("transcription.deepgram.endpointing", "stt_settings.endpointing.silence_threshold"),
    ("maintain_context", "maintain_context"),
    ("maximum_duration", "max_duration_seconds"),
    ("silence_timeout", "idle_timeout"),
    ("inactivity_message", "idle_message"),
    ("timeout_end_message", "end_call_message"),
    ("filler_words_enabled", "filler_words_enabled"),
)


class EnvelopeVoice(DialectModel):
    """Text-to-speech settings."""

    provider: TtsProvider
    name: str | None
    speed: float | None
    language: str | None
    stability: float
    similarity_boost: float
    tts_model: str | None
    instructions: str | None


class EnvelopeDeepgram(DialectModel):
    """STT model and turn-taking settings (rendered whatever the provider)."""

    model: str | None
    utterance_end_ms: int
    endpointing: int
    vad_events: bool
    diarize: bool


class EnvelopeTranscription(DialectModel):
    """Speech-to-text settings; blocks of vendors callwright lacks are null."""

    provider: SttProvider
    language: str | None
    mode: str | None
    prompt: str | None
    deepgram: EnvelopeDeepgram
    cartesia: None
    gladia: None
    smallest_ai: None


class EnvelopeAssistantData(DialectModel):
    """An assistant as seed 002 documents it (the ``data`` object)."""

    id: str
    name: str
    system_prompt: str | None
    welcome_message: str | None
    ai_provider: LlmProvider | None
    model: str | None
    max_tokens: int
    temperature: float
    voice: EnvelopeVoice
    transcription: EnvelopeTranscription
    maintain_context: bool
    maximum_duration: int | None
    silence_timeout: int | None
    inactivity_message: str | None
    timeout_end_message: str | None
    filler_words_enabled: bool
    filler_words: str
    dynamic_welcome_enabled: bool
    dynamic_welcome_message: str | None
    selected_tools: list[str]
    created_at: datetime
    updated_at: datetime


class EnvelopeAssistant(DialectModel):
    """One assistant in seed 002's success envelope."""

    success: bool
    data: EnvelopeAssistantData


class EnvelopeAssistantList(DialectModel):
    """A list of assistants in seed 002's success envelope."""

    success: bool
    data: list[EnvelopeAssistantData]


def _render_voice(tts: dict[str, Any], language: str | None) -> dict[str, Any]:
    return {
        "provider": tts["provider"],
        "name": tts["voice_id"],
        "speed": None,
        "language": language,
        "stability": tts["stability"],
        "similarity_boost": tts["similarity_boost"],
        "tts_model": tts["model_id"],
        "instructions": None,
    }


def _render_transcription(stt: dict[str, Any]) -> dict[str, Any]:
    return {
        "provider": stt_cloud_vendor(stt["model"]),
        "language": stt["language"],
        "mode": None,
        "prompt": None,
        "deepgram": {
            "model": stt["model"],
            "utterance_end_ms": stt["utterance_end_ms"],
            "endpointing": stt["endpointing"]["silence_threshold"],
            "vad_events": True,
            "diarize": False,
        },
        "cartesia": None,
        "gladia": None,
        "smallest_ai": None,
    }


def render_data(public: dict[str, Any]) -> dict[str, Any]:
    """The canonical masked resource as seed 002's ``data`` object."""
    llm, stt = public["llm_settings"], public["stt_settings"]
    return {
        "id": str(public["id"]),
        "name": public["name"],
        "system_prompt": llm["system_prompt"],
        "welcome_message": llm["welcome_message"],
        "ai_provider": public["llm_provider"],
        "model": public["llm_provider_config"]["model"],
        "max_tokens": llm["max_tokens"],
        "temperature": llm["temperature"],
        "voice": _render_voice(public["tts_settings"], stt["language"]),
        "transcription": _render_transcription(stt),
        "maintain_context": public["maintain_context"],
        "maximum_duration": public["max_duration_seconds"],
        "silence_timeout": public["idle_timeout"],
        "inactivity_message": public["idle_message"],
        "timeout_end_message": public["end_call_message"],
        "filler_words_enabled": public["filler_words_enabled"],
        "filler_words": _FILLER_SEPARATOR.join(public["filler_words"]),
        "dynamic_welcome_enabled": public["dynamic_welcome_message"] is not None,
        "dynamic_welcome_message": public["dynamic_welcome_message"],
        "selected_tools": [str(tool_id) for tool_id in public["tool_ids"]],
        "created_at": iso_timestamp(public["created_at"]),
        "updated_at": iso_timestamp(public["updated_at"]),
    }


def render(public: dict[str, Any]) -> dict[str, Any]:
    return {"success": True, "data": render_data(public)}


def render_list(publics: list[dict[str, Any]]) -> dict[str, Any]:
    return {"success": True, "data": [render_data(public) for public in publics]}


def _import_transcription(data: dict[str, Any], builder: CanonicalBuilder) -> None:
    model = lookup(data, "transcription.deepgram.model")
    present, provider = lookup(data, "transcription.provider")
    if present:
        model = stt_model_on_import(
            provider, model, "transcription.provider", "transcription.deepgram.model"
        )
    if model[0]:
        builder.put("stt_settings.model", model[1], "transcription.deepgram.model")


def _import_filler_words(data: dict[str, Any], builder: CanonicalBuilder) -> None:
    if data.get("filler_words") is None:
        return
    joined = expect_str(data["filler_words"], "filler_words")
    words = [word.strip() for word in joined.split(",") if word.strip()]
    builder.put("filler_words", words, "filler_words")


def _import_dynamic_welcome(data: dict[str, Any], builder: CanonicalBuilder) -> None:
    enabled = data.get("dynamic_welcome_enabled")
    if enabled is not None and not expect_bool(enabled, "dynamic_welcome_enabled"):
        builder.put("dynamic_welcome_message", None, "dynamic_welcome_enabled")
        return
    builder.copy(data, "dynamic_welcome_message", "dynamic_welcome_message")
    if enabled and not data.get("dynamic_welcome_message"):
        fail("dynamic_welcome_message", "is required when dynamic_welcome_enabled is true")


def to_canonical(payload: dict[str, Any]) -> dict[str, Any]:
    """A seed 002 assistant (the envelope or its ``data``) as a canonical create body."""
    data = unwrap_data(payload)
    builder = CanonicalBuilder({"name": "name"})
    for source, target in _DIRECT:
        builder.copy(data, source, target)
    _import_transcription(data, builder)
    _import_filler_words(data, builder)
    _import_dynamic_welcome(data, builder)
    if data.get("selected_tools") is not None:
        tool_ids = ids_from_strings(data["selected_tools"], "selected_tools")
        builder.put("tool_ids", tool_ids, "selected_tools")
    return builder.validated()
