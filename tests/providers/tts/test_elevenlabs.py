"""ElevenLabs: every tts_settings field lands where the stream-input protocol wants it,
premade voice names resolve to ids, and in-band refusals map to the right errors."""

from __future__ import annotations

import logging

import pytest

from callwright.providers.errors import (
    ProviderAuthError,
    ProviderRateLimited,
    ProviderRequestError,
    ProviderUnavailable,
)
from callwright.providers.protocols import TTSOptions
from callwright.providers.tts.elevenlabs import ElevenLabsOptions, ElevenLabsTTS
from callwright.providers.tts.voices import ELEVENLABS_VOICES, elevenlabs_voice_id
from tests.providers.tts.support import SENTENCE, Harness, assert_tone, synthesize

RACHEL = "21m00Tcm4TlvDq8ikWAM"


async def test_every_setting_reaches_the_vendor(elevenlabs: Harness) -> None:
    own = ElevenLabsOptions(
        latency=3, stability=0.3, similarity_boost=0.9, style=0.25, use_speaker_boost=False
    )
    options = TTSOptions(
        voice_id="rachel", model_id="eleven_turbo_v2_5", language="es-ES", vendor=own
    )
    await synthesize(elevenlabs.adapter(sample_rate=24000), options=options)
    seen = elevenlabs.last
    assert seen.path == f"/v1/text-to-speech/{RACHEL}/stream-input"
    assert seen.headers["xi-api-key"] == elevenlabs.fake.api_key
    assert seen.query == {
        "model_id": "eleven_turbo_v2_5",
        "output_format": "pcm_24000",
        "optimize_streaming_latency": "3",
        "auto_mode": "true",
        "language_code": "es",
    }
    first, text, end = seen.messages
    assert first == {
        "text": " ",
        "voice_settings": {
            "stability": 0.3,
            "similarity_boost": 0.9,
            "style": 0.25,
            "use_speaker_boost": False,
        },
    }
    assert text == {"text": SENTENCE + " ", "flush": True}
    assert end == {"text": ""}


async def test_the_defaults_are_the_seeds_voice_on_a_fast_model(elevenlabs: Harness) -> None:
    await synthesize(elevenlabs.adapter(), options=TTSOptions())
    assert elevenlabs.last.path == f"/v1/text-to-speech/{RACHEL}/stream-input"
    assert elevenlabs.last.query["model_id"] == "eleven_flash_v2_5"
    assert elevenlabs.last.query["optimize_streaming_latency"] == "1"
    assert "language_code" not in elevenlabs.last.query


@pytest.mark.parametrize(
    ("voice_id", "expected"),
    [
        ("Adam", "pNInz6obpgDQGcFmaJgB"),
        ("bella", "EXAVITQu4vr4xnSDxMaL"),
        (" rachel ", RACHEL),
        ("JBFqnCBsd6RMkjVDRZzb", "JBFqnCBsd6RMkjVDRZzb"),  # an id passes through
        ("myClonedVoice123", "myClonedVoice123"),
    ],
)
async def test_voice_names_resolve_to_ids(
    elevenlabs: Harness, voice_id: str, expected: str
) -> None:
    await synthesize(elevenlabs.adapter(), options=TTSOptions(voice_id=voice_id))
    assert elevenlabs.last.path == f"/v1/text-to-speech/{expected}/stream-input"


def test_the_voice_table_is_well_formed() -> None:
    assert elevenlabs_voice_id(None) == RACHEL
    assert elevenlabs_voice_id("") == RACHEL
    for name, voice_id in ELEVENLABS_VOICES.items():
        assert name == name.lower()
        assert len(voice_id) == 20
        assert voice_id.isalnum()


async def test_a_voice_id_cannot_escape_its_path_segment(elevenlabs: Harness) -> None:
    await synthesize(elevenlabs.adapter(), options=TTSOptions(voice_id="../../v1/user?x=1"))
    raw_path = elevenlabs.last.raw_path
    assert raw_path == "/v1/text-to-speech/..%2F..%2Fv1%2Fuser%3Fx%3D1/stream-input"
    assert "x" not in elevenlabs.last.query


async def test_provider_config_is_passed_through(elevenlabs: Harness) -> None:
    extra = {
        "generation_config": {"chunk_length_schedule": [50, 90]},
        "pronunciation_dictionary_locators": [{"pronunciation_dictionary_id": "d1"}],
        "speed": 1.1,
        "voice_settings": {"stability": 0.8},
        "apply_text_normalization": "off",
        "enable_logging": False,
        "auto_mode": False,
        "api_key": "per-assistant-key",  # configures the adapter, never forwarded
        "output_format": "mp3_44100",  # the transport decides the format
    }
    await synthesize(elevenlabs.adapter(), options=TTSOptions(extra=extra))
    seen = elevenlabs.last
    assert seen.query["apply_text_normalization"] == "off"
    assert seen.query["enable_logging"] == "false"
    assert seen.query["auto_mode"] == "false"
    assert seen.query["output_format"] == "pcm_16000"
    assert "api_key" not in seen.query
    first = seen.messages[0]
    assert first["generation_config"] == {"chunk_length_schedule": [50, 90]}
    assert first["pronunciation_dictionary_locators"] == [{"pronunciation_dictionary_id": "d1"}]
    assert first["voice_settings"]["speed"] == 1.1
    assert first["voice_settings"]["stability"] == 0.8
    assert "per-assistant-key" not in str(seen.messages)


async def test_a_provider_config_value_that_cannot_be_a_query_parameter_is_refused(
    elevenlabs: Harness,
) -> None:
    with pytest.raises(ProviderRequestError, match=r"provider_config\.seed"):
        await synthesize(elevenlabs.adapter(), options=TTSOptions(extra={"seed": [1, 2]}))
    assert elevenlabs.fake.received == []


async def test_language_is_dropped_for_models_that_refuse_it(
    elevenlabs: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    options = TTSOptions(model_id="eleven_multilingual_v2", language="de-DE")
    with caplog.at_level(logging.WARNING):
        await synthesize(elevenlabs.adapter(), options=options)
        await synthesize(elevenlabs.adapter(), options=options)
    assert "language_code" not in elevenlabs.last.query
    assert "takes no language" in caplog.text


async def test_telephony_rate_asks_for_mulaw_and_yields_pcm16(elevenlabs: Harness) -> None:
    audio = await synthesize(elevenlabs.adapter(sample_rate=8000))
    assert elevenlabs.last.query["output_format"] == "ulaw_8000"
    assert_tone(audio, 8000)


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (("quota_exceeded", "This request exceeds your quota."), ProviderRateLimited),
        (("too_many_concurrent_requests", "Too many requests."), ProviderRateLimited),
        (("voice_not_found", "A voice with that id does not exist."), ProviderRequestError),
        (("internal_error", "Something went wrong."), ProviderUnavailable),
    ],
)
async def test_in_band_refusals_map_to_provider_errors(
    elevenlabs: Harness, error: tuple[str, str], expected: type[Exception]
) -> None:
    elevenlabs.fake.in_band_error = error
    with pytest.raises(expected, match=error[1]):
        await synthesize(elevenlabs.adapter())


async def test_a_bad_key_refused_in_band_is_an_auth_error(elevenlabs: Harness) -> None:
    with pytest.raises(ProviderAuthError, match="invalid_api_key"):
        await synthesize(elevenlabs.adapter(api_key="nope"))


async def test_a_refusal_given_only_as_the_close_reason_is_understood(
    elevenlabs: Harness,
) -> None:
    elevenlabs.fake.close_frame_only = True
    with pytest.raises(ProviderAuthError, match="Invalid API key"):
        await synthesize(elevenlabs.adapter(api_key="nope"))
    elevenlabs.fake.in_band_error = ("quota_exceeded", "Quota exceeded.")
    with pytest.raises(ProviderRateLimited, match="Quota exceeded"):
        await synthesize(elevenlabs.adapter())


def test_bad_construction_is_refused_at_once() -> None:
    with pytest.raises(ValueError, match="not 11025 Hz"):
        ElevenLabsTTS("key", sample_rate=11025)
    with pytest.raises(ValueError, match="base URL"):
        ElevenLabsTTS("key", base_url="api.elevenlabs.io")
