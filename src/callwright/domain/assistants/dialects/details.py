"""Seed 004's dialect: ``assistant_*`` fields inside ``{success, message, data}``
(``GET /assistant/details/{assistant_id}``).

Mappings (dialect <-> canonical):

- ``assistant_id`` <- ``str(id)``; ``assistant_created_at`` / ``assistant_updated_at``
  <- ISO-8601 with ``Z``. All three are read-only: ignored on import.
- ``assistant_name`` / ``assistant_description`` <-> ``name`` / ``description``;
  ``assistant_prompt`` <-> ``llm_settings.system_prompt``; ``assistant_start_instruction``
  <-> ``llm_settings.welcome_message``; ``assistant_llm_mode`` <-> ``mode``.
- Realtime mode: ``assistant_llm_config`` <-> ``realtime_settings`` (the
  speech-to-speech model, decision 018; never the pipeline's chat model):
  ``{provider, model, voice, api_key}``, the key masked, or the seed's "Using System
  provided API Key" when none is stored; the TTS fields are null. The other
  ``realtime_settings`` (turn detection, eagerness, transcription model) have no
  dialect field and keep their stored values or defaults.
- Pipeline mode: ``assistant_llm_config`` is null; ``assistant_tts_model`` <->
  ``tts_settings.provider``; ``assistant_tts_config`` = ``tts_settings``' voice_id,
  model_id, stability, similarity_boost, style, use_speaker_boost and latency, plus
  ``api_key``: the masked ``tts_settings.provider_config.api_key`` or null.
- Keys on import: a mask, null, or the seed's "Using System provided API Key"
  placeholder stores nothing; any other string is stored as the key.
- ``assistant_interaction_config``: ``speaks_first`` = ``first_message_mode`` is not
  "assistant-waits-for-user" (on import false sets that mode, true leaves the mode as it
  is, so a model-generated opener survives an update); ``filler_words`` <->
  ``filler_words_enabled``; ``silence_reprompts`` = ``idle_timeout`` is set and
  ``max_idle_messages`` > 0; ``silence_reprompt_interval`` <-> ``idle_timeout`` (0 when
  unset; must be a whole number on import); ``silence_max_reprompts`` <->
  ``max_idle_messages`` (0 when unset; reprompts switched off import as 0).
- ``assistant_end_call_enabled`` <-> ``tools_settings.end_call.enabled``;
  ``assistant_end_call_trigger_phrase`` <-> ``end_call_trigger_phrase``;
  ``assistant_end_call_agent_message`` <-> ``end_call_message``;
  ``assistant_end_call_url`` <-> ``end_call_url``; ``tool_ids`` as digit strings.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from callwright.domain.assistants.schemas import AssistantMode, RealtimeProvider, TtsProvider

from ._shared import (
    CanonicalBuilder,
    DialectModel,
    expect_bool,
    expect_object,
    fail,
    ids_from_strings,
    iso_timestamp,
    lookup,
    unwrap_data,
)

__all__ = [
    "LIST_MESSAGE",
    "ONE_MESSAGE",
    "DetailsAssistant",
    "DetailsAssistantData",
    "DetailsAssistantList",
    "DetailsInteractionConfig",
    "DetailsLlmConfig",
    "DetailsTtsConfig",
    "render",
    "render_data",
    "render_list",
    "to_canonical",
]

ONE_MESSAGE = "Assistant details retrieved successfully"
LIST_MESSAGE = "Assistants retrieved successfully"
# Seed 004 shows this in place of a key when the platform's own key is used.
_NO_KEY_PLACEHOLDER = "Using System provided API Key"
_WAITS = "assistant-waits-for-user"
_INTERACTION = "assistant_interaction_config"

# Fields copied as they are: (dialect path, canonical path).
_DIRECT = (
    ("assistant_name", "name"),
    ("assistant_description", "description"),
    ("assistant_prompt", "llm_settings.system_prompt"),
    ("assistant_llm_mode", "mode"),
    ("assistant_start_instruction", "llm_settings.welcome_message"),
    (f"{_INTERACTION}.filler_words", "filler_words_enabled"),
    ("assistant_end_call_enabled", "tools_settings.end_call.enabled"),
    ("assistant_end_call_trigger_phrase", "end_call_trigger_phrase"),
    ("assistant_end_call_agent_message", "end_call_message"),
    ("assistant_end_call_url", "end_call_url"),
)
_LLM_FIELDS = (
    ("provider", "realtime_settings.provider"),
    ("model", "realtime_settings.model"),
    ("voice", "realtime_settings.voice"),
)
_TTS_FIELDS = (
    "voice_id",
    "model_id",
    "stability",
    "similarity_boost",
    "style",
    "use_speaker_boost",
    "latency",
)


class DetailsLlmConfig(DialectModel):
    """The speech-to-speech model of realtime mode (``realtime_settings``); ``api_key``
    is masked, or the seed's placeholder when none is stored."""

    provider: RealtimeProvider | None
    model: str | None
    voice: str | None
    api_key: str | None


class DetailsTtsConfig(DialectModel):
    """The voice of pipeline mode; ``api_key`` is masked."""

    voice_id: str | None
    model_id: str | None
    stability: float
    similarity_boost: float
    style: float
    use_speaker_boost: bool
    latency: int
    api_key: str | None


class DetailsInteractionConfig(DialectModel):
    """Who speaks first, filler words and silence reprompts."""

    speaks_first: bool
    filler_words: bool
    silence_reprompts: bool
    silence_reprompt_interval: float
    silence_max_reprompts: int


class DetailsAssistantData(DialectModel):
    """An assistant as seed 004 documents it (the ``data`` object)."""

    assistant_id: str
    assistant_name: str
    assistant_description: str | None
    assistant_prompt: str | None
    assistant_llm_mode: AssistantMode
    assistant_llm_config: DetailsLlmConfig | None
    assistant_tts_model: TtsProvider | None
    assistant_tts_config: DetailsTtsConfig | None
    assistant_start_instruction: str | None
    assistant_interaction_config: DetailsInteractionConfig
    assistant_end_call_enabled: bool
    assistant_end_call_trigger_phrase: str | None
    assistant_end_call_agent_message: str | None
    assistant_end_call_url: str | None
    tool_ids: list[str]
    assistant_created_at: datetime
    assistant_updated_at: datetime


class DetailsAssistant(DialectModel):
    """One assistant in seed 004's response envelope."""

    success: bool
    message: str
    data: DetailsAssistantData


class DetailsAssistantList(DialectModel):
    """A list of assistants in seed 004's response envelope."""

    success: bool
    message: str
    data: list[DetailsAssistantData]


def _string_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _render_llm_config(public: dict[str, Any]) -> dict[str, Any]:
    realtime = public["realtime_settings"]
    return {
        "provider": realtime["provider"],
        "model": realtime["model"],
        "voice": realtime["voice"],
        "api_key": _string_or_none(realtime.get("api_key")) or _NO_KEY_PLACEHOLDER,
    }


def _render_tts_config(tts: dict[str, Any]) -> dict[str, Any]:
    config = {field: tts[field] for field in _TTS_FIELDS}
    config["api_key"] = _string_or_none(tts["provider_config"].get("api_key"))
    return config


def _render_interaction(public: dict[str, Any]) -> dict[str, Any]:
    idle_timeout, max_idle = public["idle_timeout"], public["max_idle_messages"]
    return {
        "speaks_first": public["first_message_mode"] != _WAITS,
        "filler_words": public["filler_words_enabled"],
        "silence_reprompts": idle_timeout is not None and (max_idle or 0) > 0,
        "silence_reprompt_interval": float(idle_timeout or 0),
        "silence_max_reprompts": max_idle or 0,
    }


def render_data(public: dict[str, Any]) -> dict[str, Any]:
    """The canonical masked resource as seed 004's ``data`` object."""
    realtime = public["mode"] == "realtime"
    return {
        "assistant_id": str(public["id"]),
        "assistant_name": public["name"],
        "assistant_description": public["description"],
        "assistant_prompt": public["llm_settings"]["system_prompt"],
        "assistant_llm_mode": public["mode"],
        "assistant_llm_config": _render_llm_config(public) if realtime else None,
        "assistant_tts_model": None if realtime else public["tts_settings"]["provider"],
        "assistant_tts_config": None if realtime else _render_tts_config(public["tts_settings"]),
        "assistant_start_instruction": public["llm_settings"]["welcome_message"],
        "assistant_interaction_config": _render_interaction(public),
        "assistant_end_call_enabled": public["tools_settings"]["end_call"]["enabled"],
        "assistant_end_call_trigger_phrase": public["end_call_trigger_phrase"],
        "assistant_end_call_agent_message": public["end_call_message"],
        "assistant_end_call_url": public["end_call_url"],
        "tool_ids": [str(tool_id) for tool_id in public["tool_ids"]],
        "assistant_created_at": iso_timestamp(public["created_at"]),
        "assistant_updated_at": iso_timestamp(public["updated_at"]),
    }


def render(public: dict[str, Any]) -> dict[str, Any]:
    return {"success": True, "message": ONE_MESSAGE, "data": render_data(public)}


def render_list(publics: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "success": True,
        "message": LIST_MESSAGE,
        "data": [render_data(public) for public in publics],
    }


def _import_key(data: dict[str, Any], builder: CanonicalBuilder, section: str, path: str) -> None:
    present, key = lookup(data, f"{section}.api_key")
    if present and key != _NO_KEY_PLACEHOLDER:
        builder.put_secret(path, key, f"{section}.api_key")


def _import_llm_config(data: dict[str, Any], builder: CanonicalBuilder) -> None:
    for field, target in _LLM_FIELDS:
        builder.copy(data, f"assistant_llm_config.{field}", target)
    _import_key(data, builder, "assistant_llm_config", "realtime_settings.api_key")


def _import_tts(data: dict[str, Any], builder: CanonicalBuilder) -> None:
    # Null in realtime mode, where it says nothing about the stored provider.
    if data.get("assistant_tts_model") is not None:
        builder.copy(data, "assistant_tts_model", "tts_settings.provider")
    for field in _TTS_FIELDS:
        builder.copy(data, f"assistant_tts_config.{field}", f"tts_settings.{field}")
    _import_key(data, builder, "assistant_tts_config", "tts_settings.provider_config.api_key")


def _whole_seconds(value: Any, field: str) -> int:
    # idle_timeout is an integer: 10.5 s cannot be stored, and rounding would be a guess.
    if isinstance(value, bool) or not isinstance(value, int | float):
        fail(field, "must be a number of seconds", "float_type")
    if isinstance(value, float) and not value.is_integer():
        fail(field, "must be a whole number of seconds", "int_from_float")
    return int(value)


def _import_silence(config: dict[str, Any], builder: CanonicalBuilder) -> None:
    reprompts_field = f"{_INTERACTION}.silence_reprompts"
    interval_field = f"{_INTERACTION}.silence_reprompt_interval"
    max_field = f"{_INTERACTION}.silence_max_reprompts"
    reprompts = config.get("silence_reprompts")
    if reprompts is not None:
        expect_bool(reprompts, reprompts_field)
    if config.get("silence_reprompt_interval") is not None:
        seconds = _whole_seconds(config["silence_reprompt_interval"], interval_field)
        if reprompts and seconds == 0:
            fail(interval_field, "must be at least 1 when silence_reprompts is true")
        # 0 is how the dialect says "no timeout".
        builder.put("idle_timeout", seconds or None, interval_field)
    if reprompts is False:
        builder.put("max_idle_messages", 0, reprompts_field)
    elif config.get("silence_max_reprompts") is not None:
        if reprompts and config["silence_max_reprompts"] == 0:
            fail(max_field, "must be at least 1 when silence_reprompts is true")
        builder.put("max_idle_messages", config["silence_max_reprompts"], max_field)


def _import_interaction(data: dict[str, Any], builder: CanonicalBuilder) -> None:
    if data.get(_INTERACTION) is None:
        return
    config = expect_object(data[_INTERACTION], _INTERACTION)
    speaks_first = config.get("speaks_first")
    # true keeps the stored mode: "speaks first" covers the model-generated opener too.
    if speaks_first is not None and not expect_bool(speaks_first, f"{_INTERACTION}.speaks_first"):
        builder.put("first_message_mode", _WAITS, f"{_INTERACTION}.speaks_first")
    _import_silence(config, builder)


def to_canonical(payload: dict[str, Any]) -> dict[str, Any]:
    """A seed 004 assistant (the envelope or its ``data``) as a canonical create body."""
    data = unwrap_data(payload)
    builder = CanonicalBuilder({"name": "assistant_name"})
    for source, target in _DIRECT:
        builder.copy(data, source, target)
    _import_llm_config(data, builder)
    _import_tts(data, builder)
    _import_interaction(data, builder)
    if data.get("tool_ids") is not None:
        builder.put("tool_ids", ids_from_strings(data["tool_ids"], "tool_ids"), "tool_ids")
    return builder.validated()
