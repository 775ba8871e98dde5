"""Realtime mode: the assistant's fields that cannot act on the call's realtime vendor,
changed from their defaults, are named in the call record's provider notes (the
realtime choice's reason), as the pipeline's unsupported settings are; untouched
defaults are not, and what the vendor does honour (Gemini's temperature) is not."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from callwright.domain.assistants.schemas import AssistantFields, AssistantIn
from callwright.providers.realtime.settings import unsupported_realtime_settings
from callwright.runtime.providers_cloud import CloudProviders
from callwright.runtime.realtime import realtime_model_factory
from callwright.settings import Settings

DEFAULTS = AssistantFields().model_dump(mode="json")
GEMINI = {"provider": "gemini", "voice": "Kore", "model": "gemini-3.1-flash-live-preview"}


async def _no_credentials(organization_id: int) -> Mapping[str, Mapping[str, Any]]:
    return {}


def _document(**fields: Any) -> dict[str, Any]:
    return AssistantIn(name="Desk", mode="realtime", **fields).model_dump(mode="json")


async def _reason(document: dict[str, Any]) -> str:
    server = Settings(openai_api_key="sk-server-0123456789", gemini_api_key="AIza-0123456789")
    cloud = CloudProviders()
    try:
        build = realtime_model_factory(server=server, cloud=cloud, credentials=_no_credentials)
        model, _label, choice = await build(document, 1)
    finally:
        await cloud.aclose()
    assert model is not None, choice.reason
    return choice.reason


async def test_changed_settings_that_cannot_act_are_named_in_the_call_records_notes() -> None:
    reason = await _reason(
        _document(
            llm_settings={"temperature": 0.9, "stop_sequences": ["END"]},
            tts_settings={"voice_id": "bella"},
            stt_settings={"keyterms": ["Acme"], "vad_turnoff": 800},
            interruption_settings={"false_interruption_timeout": 1.5},
            filler_words_enabled=True,
        )
    )
    assert reason.endswith(
        "; no effect in realtime mode on openai: tts_settings.voice_id, "
        "llm_settings.temperature, llm_settings.stop_sequences, stt_settings.vad_turnoff, "
        "interruption_settings.false_interruption_timeout, filler_words_enabled"
    )


async def test_defaults_are_not_named() -> None:
    assert "no effect" not in await _reason(_document())


async def test_what_gemini_honours_is_not_named_for_gemini() -> None:
    document = _document(
        realtime_settings=GEMINI,
        llm_settings={"temperature": 0.9, "presence_penalty": 1},
        stt_settings={"keyterms": ["Acme"]},
    )
    reason = await _reason(document)
    assert reason.endswith(
        "; no effect in realtime mode on gemini: llm_settings.presence_penalty, "
        "stt_settings.keyterms"
    )


def test_acknowledgement_phrases_are_named_only_when_a_time_test_decides_first() -> None:
    phrases = {"acknowledgement_phrases": ["mm"]}
    timed = _document(interruption_settings=phrases)
    words_only = _document(interruption_settings={**phrases, "min_speaking_time": 0})
    named = "interruption_settings.acknowledgement_phrases"
    assert named in unsupported_realtime_settings("openai", timed, DEFAULTS)
    assert named not in unsupported_realtime_settings("openai", words_only, DEFAULTS)


def test_the_endpointing_silence_is_named_only_under_semantic_vad() -> None:
    silence = {"endpointing": {"silence_threshold": 900}}
    named = "stt_settings.endpointing.silence_threshold"
    server_vad = _document(stt_settings=silence)
    semantic = _document(stt_settings=silence, realtime_settings={"turn_detection": "semantic_vad"})
    assert named not in unsupported_realtime_settings("openai", server_vad, DEFAULTS)
    assert named in unsupported_realtime_settings("openai", semantic, DEFAULTS)
