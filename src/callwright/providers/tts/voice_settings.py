"""What each voice does with the voice settings of ``tts_settings`` (``latency``,
``stability``, ``similarity_boost``, ``style``, ``use_speaker_boost``, ``model_id``).

They are ElevenLabs' settings; another vendor maps a setting to its own equivalent
through its options type (``PlayHTOptions``) or request field, or has none. A setting
changed from its default on a voice that has no equivalent is named, by ``POST
/validate`` and in the call record's provider notes, instead of being ignored
silently. ``SUPPORT`` is also the README's table."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["DEFAULTS", "NEEDS", "SUPPORT", "unsupported_voice_settings"]

# Each setting's default in the resource: a setting left at it asks for nothing.
DEFAULTS: dict[str, Any] = {
    "latency": 1,
    "stability": 0.5,
    "similarity_boost": 0.75,
    "style": 0.0,
    "use_speaker_boost": True,
    "model_id": None,
}

# (vendor, setting) -> the provider_config key without which the setting does nothing.
NEEDS: dict[tuple[str, str], str] = {("azure", "style"): "style"}
# vendor -> setting -> what it does there (a setting not listed has no equivalent).
SUPPORT: dict[str, dict[str, str]] = {
    "elevenlabs": {
        "latency": "optimize_streaming_latency (0–4)",
        "stability": "voice_settings.stability",
        "similarity_boost": "voice_settings.similarity_boost",
        "style": "voice_settings.style",
        "use_speaker_boost": "voice_settings.use_speaker_boost",
        "model_id": "model_id (default eleven_flash_v2_5)",
    },
    "playht": {
        "stability": "temperature = 2 × (1 − stability)",
        "similarity_boost": "voice_guidance = 1 + 5 × similarity_boost",
        "style": "style_guidance = 1 + 29 × style",
        "model_id": "voice_engine (default Play3.0-mini)",
    },
    "cartesia": {"model_id": "model_id (default sonic-2)"},
    "openai": {"model_id": "model (default tts-1)"},
    "deepgram": {"model_id": "the Aura model, when voice_id is not one"},
    "azure": {"style": "styledegree = 2 × style of provider_config.style's speaking style"},
    "piper": {},
    "espeak": {},
}


def unsupported_voice_settings(vendor: str, tts_settings: Mapping[str, Any]) -> list[str]:
    """The voice settings changed from their defaults that ``vendor`` has no
    equivalent for, as ``tts_settings.<name>``."""
    supported = SUPPORT.get(vendor, {})
    config = tts_settings.get("provider_config") or {}
    unsupported = []
    for name, default in DEFAULTS.items():
        if tts_settings.get(name, default) == default:
            continue
        needed = NEEDS.get((vendor, name))
        if name not in supported or (needed is not None and config.get(needed) is None):
            unsupported.append(f"tts_settings.{name}")
    return unsupported
