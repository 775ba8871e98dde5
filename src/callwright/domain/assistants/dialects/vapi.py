"""Seed 001's dialect: a Vapi-style camelCase assistant (``GET /assistants/{id}``).

Mappings (dialect <-> canonical):

- ``id`` / ``orgId`` <- ``str(id)`` / ``str(organization_id)``; ``createdAt`` /
  ``updatedAt`` <- ISO-8601 timestamps with ``Z``. All four are read-only: ignored on
  import.
- ``firstMessage`` <-> ``llm_settings.welcome_message``; ``firstMessageMode``,
  ``voicemailMessage``, ``endCallMessage``, ``endCallPhrases``, ``metadata`` and
  ``maxDurationSeconds`` map 1:1 to their snake_case fields (a null list or map imports
  as empty).
- ``model.provider`` <-> ``llm_provider`` (Vapi knows openai and anthropic; callwright's
  other providers are rendered and accepted too, so an export of ours imports back);
  ``model.model`` <-> ``llm_provider_config.model``; ``model.temperature`` /
  ``model.maxTokens`` <-> ``llm_settings``; ``model.messages`` ``[{"role": "system",
  "content": ...}]`` <-> ``llm_settings.system_prompt`` (Vapi's own API carries the
  prompt this way; several system messages are joined by a blank line, other roles are
  ignored, and an empty list means no system prompt).
- ``voice.provider`` "11labs" <-> ``tts_settings.provider`` "elevenlabs"; the other
  voices of the catalog keep their names; seed 001's voices the catalog has no entry
  for (e.g. "edmo") are refused, naming the supported ones.
  ``voice.voiceId`` <-> ``tts_settings.voice_id``.
- ``transcriber.provider`` is derived from ``stt_settings.model`` (nova* -> deepgram,
  whisper* / gpt-4o*transcribe -> whisper, universal* / assemblyai* / best / nano ->
  assemblyai, otherwise deepgram). On import the model is kept; a missing model becomes
  "whisper-1" for whisper and "universal-streaming" for assemblyai, and a model of
  another vendor is refused. ``transcriber.model`` / ``transcriber.language`` <->
  ``stt_settings.model`` / ``stt_settings.language``.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import RootModel

from callwright.domain.assistants.schemas import FirstMessageMode, LlmProvider
from callwright.providers.vendors import CATALOG, stt_cloud_vendor

from ._shared import (
    CanonicalBuilder,
    DialectModel,
    SttProvider,
    expect_list,
    expect_object,
    expect_str,
    fail,
    iso_timestamp,
    lookup,
    stt_model_on_import,
)

__all__ = [
    "VapiAssistant",
    "VapiAssistantList",
    "VapiMessage",
    "VapiModelConfig",
    "VapiTranscriberConfig",
    "VapiVoiceConfig",
    "render",
    "render_list",
    "to_canonical",
]

_TTS_TO_VAPI = {"elevenlabs": "11labs"}
_VAPI_TO_TTS = {"11labs": "elevenlabs"}
# Seed 001's voice providers; the ones the catalog has no voice for are refused.
_VAPI_VOICES = ("11labs", "azure", "cartesia", "deepgram", "playht", "openai", "edmo")
_SUPPORTED_VOICES = tuple(
    sorted(
        (_TTS_TO_VAPI.get(name, name) for name in CATALOG.names("tts")),
        key=lambda name: _VAPI_VOICES.index(name) if name in _VAPI_VOICES else len(_VAPI_VOICES),
    )
)
if TYPE_CHECKING:
    VapiVoiceProvider = str
else:
    VapiVoiceProvider = Literal[_SUPPORTED_VOICES]

# Fields copied as they are: (dialect path, canonical path).
_DIRECT = (
    ("name", "name"),
    ("firstMessage", "llm_settings.welcome_message"),
    ("voicemailMessage", "voicemail_message"),
    ("endCallMessage", "end_call_message"),
    ("maxDurationSeconds", "max_duration_seconds"),
    ("model.provider", "llm_provider"),
    ("model.model", "llm_provider_config.model"),
    ("model.temperature", "llm_settings.temperature"),
    ("model.maxTokens", "llm_settings.max_tokens"),
    ("voice.voiceId", "tts_settings.voice_id"),
    ("transcriber.language", "stt_settings.language"),
)
# Nullable in Vapi, but lists and maps in callwright: null means empty.
_EMPTY_WHEN_NULL: tuple[tuple[str, str, Any], ...] = (
    ("endCallPhrases", "end_call_phrases", []),
    ("metadata", "metadata", {}),
)


class VapiMessage(DialectModel):
    """A model message; callwright renders only the system prompt."""

    role: Literal["system"]
    content: str


class VapiModelConfig(DialectModel):
    """The language model: provider, model name and sampling settings."""

    provider: LlmProvider | None
    model: str | None
    temperature: float
    maxTokens: int
    messages: list[VapiMessage]


class VapiVoiceConfig(DialectModel):
    """Text-to-speech: Vapi's provider name and the provider's voice id."""

    provider: VapiVoiceProvider
    voiceId: str | None


class VapiTranscriberConfig(DialectModel):
    """Speech-to-text: provider (derived from the model), model and language."""

    provider: SttProvider
    model: str | None
    language: str | None


class VapiAssistant(DialectModel):
    """An assistant as seed 001 (Vapi-style) documents it."""

    id: str
    orgId: str
    createdAt: datetime
    updatedAt: datetime
    name: str | None
    firstMessage: str | None
    firstMessageMode: FirstMessageMode | None
    model: VapiModelConfig
    voice: VapiVoiceConfig
    transcriber: VapiTranscriberConfig
    voicemailMessage: str | None
    endCallMessage: str | None
    endCallPhrases: list[str] | None
    metadata: dict[str, Any] | None
    maxDurationSeconds: int | None


class VapiAssistantList(RootModel[list[VapiAssistant]]):
    """A list of assistants: a bare JSON array."""


def render(public: dict[str, Any]) -> dict[str, Any]:
    """The canonical masked resource as seed 001 renders it."""
    llm, tts, stt = public["llm_settings"], public["tts_settings"], public["stt_settings"]
    prompt = llm["system_prompt"]
    return {
        "id": str(public["id"]),
        "orgId": str(public["organization_id"]),
        "createdAt": iso_timestamp(public["created_at"]),
        "updatedAt": iso_timestamp(public["updated_at"]),
        "name": public["name"],
        "firstMessage": llm["welcome_message"],
        "firstMessageMode": public["first_message_mode"],
        "model": {
            "provider": public["llm_provider"],
            "model": public["llm_provider_config"]["model"],
            "temperature": llm["temperature"],
            "maxTokens": llm["max_tokens"],
            "messages": [] if prompt is None else [{"role": "system", "content": prompt}],
        },
        "voice": {
            "provider": _TTS_TO_VAPI.get(tts["provider"], tts["provider"]),
            "voiceId": tts["voice_id"],
        },
        "transcriber": {
            "provider": stt_cloud_vendor(stt["model"]),
            "model": stt["model"],
            "language": stt["language"],
        },
        "voicemailMessage": public["voicemail_message"],
        "endCallMessage": public["end_call_message"],
        "endCallPhrases": list(public["end_call_phrases"]),
        "metadata": public["metadata"],
        "maxDurationSeconds": public["max_duration_seconds"],
    }


def render_list(publics: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [render(public) for public in publics]


def _system_prompt(messages: Any) -> str | None:
    prompts = []
    for index, message in enumerate(expect_list(messages, "model.messages")):
        item = expect_object(message, f"model.messages[{index}]")
        role = expect_str(item.get("role"), f"model.messages[{index}].role")
        if role == "system":
            prompts.append(expect_str(item.get("content"), f"model.messages[{index}].content"))
    return "\n\n".join(prompts) if prompts else None


def _import_voice_provider(payload: dict[str, Any], builder: CanonicalBuilder) -> None:
    present, provider = lookup(payload, "voice.provider")
    if not present:
        return
    name = expect_str(provider, "voice.provider")
    if name in _VAPI_VOICES and name not in _SUPPORTED_VOICES:
        supported = ", ".join(_SUPPORTED_VOICES)
        fail("voice.provider", f"{name!r} is not supported by callwright; use one of {supported}")
    builder.put("tts_settings.provider", _VAPI_TO_TTS.get(name, name), "voice.provider")


def _import_transcriber(payload: dict[str, Any], builder: CanonicalBuilder) -> None:
    model = lookup(payload, "transcriber.model")
    present, provider = lookup(payload, "transcriber.provider")
    if present:
        model = stt_model_on_import(provider, model, "transcriber.provider", "transcriber.model")
    if model[0]:
        builder.put("stt_settings.model", model[1], "transcriber.model")


def to_canonical(payload: dict[str, Any]) -> dict[str, Any]:
    """A seed 001 assistant as a canonical create body (only the fields it carries)."""
    body = expect_object(payload, "body")
    builder = CanonicalBuilder({"name": "name"})
    for source, target in _DIRECT:
        builder.copy(body, source, target)
    for source, target, empty in _EMPTY_WHEN_NULL:
        present, value = lookup(body, source)
        if present:
            builder.put(target, empty if value is None else value, source)
    mode = body.get("firstMessageMode")
    if mode is not None:  # null: Vapi's default, which is also ours
        builder.put("first_message_mode", mode, "firstMessageMode")
    present, messages = lookup(body, "model.messages")
    if present and messages is not None:
        builder.put("llm_settings.system_prompt", _system_prompt(messages), "model.messages")
    _import_voice_provider(body, builder)
    _import_transcriber(body, builder)
    return builder.validated()
