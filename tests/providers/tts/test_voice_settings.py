"""Every voice in the catalog says what it does with each voice setting, and the
defaults it compares against are the resource's own."""

from __future__ import annotations

from callwright.domain.assistants.schemas import TtsSettings
from callwright.providers.tts.voice_settings import DEFAULTS, SUPPORT, unsupported_voice_settings
from callwright.providers.vendors import CATALOG


def test_every_catalog_voice_has_a_row() -> None:
    assert set(SUPPORT) == set(CATALOG.names("tts"))
    for vendor, mapping in SUPPORT.items():
        assert set(mapping) <= set(DEFAULTS), vendor


def test_the_defaults_are_the_resources() -> None:
    resource = TtsSettings().model_dump()
    assert {name: resource[name] for name in DEFAULTS} == DEFAULTS


def test_a_setting_left_at_its_default_is_never_named() -> None:
    for vendor in SUPPORT:
        assert unsupported_voice_settings(vendor, TtsSettings().model_dump()) == []
    changed = TtsSettings(use_speaker_boost=False, model_id="m").model_dump()
    assert unsupported_voice_settings("azure", changed) == [
        "tts_settings.use_speaker_boost",
        "tts_settings.model_id",
    ]
    assert unsupported_voice_settings("elevenlabs", changed) == []
