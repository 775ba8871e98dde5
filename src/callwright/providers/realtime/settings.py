"""What a realtime vendor makes of an assistant's settings (decision 018).

``setting_problems``: what the vendor would refuse in ``realtime_settings``, asked of
its adapter module (an optional ``setting_problems(realtime_settings) -> list[str]``),
so that ``POST /validate`` says it before a call ends on it.

``unsupported_realtime_settings``: the assistant's fields that do nothing in realtime
mode on that vendor, named (by ``POST /validate`` and in a realtime call's provider
notes) only when they were changed from their defaults: a setting the user touched and
that cannot act is said, never ignored silently.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any, Final

from callwright.providers.vendors import CATALOG

__all__ = ["REPLACED", "setting_problems", "unsupported_realtime_settings"]


def setting_problems(vendor: str, realtime_settings: Mapping[str, Any]) -> list[str]:
    """The problems ``vendor``'s adapter finds in ``realtime_settings`` ([] for none,
    or a vendor that checks nothing ahead of a call)."""
    entry = CATALOG.get("realtime", vendor)
    if entry is None or entry.adapter is None:
        return []
    check = getattr(importlib.import_module(entry.adapter), "setting_problems", None)
    return list(check(realtime_settings)) if check is not None else []


REPLACED: Final = (
    # The speech-to-speech model replaces the chat model, its fallbacks and the voice:
    # realtime_settings names the model, its key, its voice and its transcription.
    "llm_provider",
    "llm_provider_config.api_key",
    "llm_provider_config.base_url",
    "llm_provider_config.model",
    "llm_provider_config.custom_config",
    "llm_fallback_providers.enabled",
    "llm_fallback_providers.fallbacks",
    "tts_settings.provider",
    "tts_settings.voice_id",
    "tts_settings.model_id",
    "tts_settings.latency",
    "tts_settings.stability",
    "tts_settings.similarity_boost",
    "tts_settings.style",
    "tts_settings.use_speaker_boost",
    "tts_settings.provider_config",
    "stt_settings.model",
)
"""Fields realtime_settings stands in for: no effect in realtime mode, on any vendor."""

# Fields no realtime vendor has an equivalent for (the model's own turn detection and
# transcription; no voice of ours on the call; a failed answer is the model's).
_NOWHERE: Final = (
    "llm_settings.stop_sequences",
    "stt_settings.punctuate",
    "stt_settings.smart_format",
    "stt_settings.interim_results",
    "stt_settings.endpointing.min_silence_duration",
    "stt_settings.utterance_end_ms",
    "stt_settings.vad_turnoff",
    "stt_settings.turn_detection",
    "interruption_settings.false_interruption_timeout",
    "filler_words_enabled",
    "filler_words",
    "error_message",
    "max_error_messages",
)

# Sampling: Gemini Live's generationConfig takes temperature and topP (its penalties
# only on the retired gemini-2.0 models); OpenAI Realtime's GA session takes none.
_SAMPLING: Final = ("llm_settings.temperature", "llm_settings.top_p")
_PENALTIES: Final = ("llm_settings.frequency_penalty", "llm_settings.presence_penalty")
# The transcription's prompt and noise reduction: OpenAI's session has them, Gemini's
# transcription takes no options and its input no filter.
_HEARING: Final = ("stt_settings.keywords", "stt_settings.keyterms", "stt_settings.audio_denoising")
_VENDOR_LACKS: Final[Mapping[str, tuple[str, ...]]] = {
    "openai": (*_SAMPLING, *_PENALTIES),
    "gemini": (*_PENALTIES, *_HEARING),
}


def _value(document: Mapping[str, Any], path: str) -> Any:
    value: Any = document
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def unsupported_realtime_settings(
    vendor: str, document: Mapping[str, Any], defaults: Mapping[str, Any]
) -> list[str]:
    """The fields of ``document`` (an assistant's canonical settings) changed from
    ``defaults`` (the resource's defaults) that do nothing in realtime mode on
    ``vendor``, in the resource's order of concern: replaced, then unsupported."""
    paths = [*REPLACED, *_VENDOR_LACKS.get(vendor, (*_SAMPLING, *_PENALTIES, *_HEARING)), *_NOWHERE]
    interruption = document.get("interruption_settings") or {}
    if interruption.get("min_speaking_time", 0):
        # The time test decides at once, before the caller's words are known.
        paths.append("interruption_settings.acknowledgement_phrases")
    realtime = document.get("realtime_settings") or {}
    if realtime.get("turn_detection") == "semantic_vad":
        paths.append("stt_settings.endpointing.silence_threshold")
    return [path for path in paths if _value(document, path) != _value(defaults, path)]
