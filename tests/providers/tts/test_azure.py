"""Azure: the headers Azure requires, an output format per transport rate, and SSML
that a real XML parser reads back as exactly the sentence, whatever it contains."""

from __future__ import annotations

import logging

import pytest

from callwright.providers.errors import ProviderRequestError
from callwright.providers.protocols import TTSOptions
from callwright.providers.tts.azure import DEFAULT_AZURE_VOICE, AzureTTS
from tests.providers.tts.support import SENTENCE, Harness, assert_tone, synthesize
from tests.vendor_fakes.azure_tts import Spoken


@pytest.mark.parametrize(
    ("rate", "output_format"),
    [
        (8000, "raw-8khz-8bit-mono-mulaw"),
        (16000, "raw-16khz-16bit-mono-pcm"),
        (24000, "raw-24khz-16bit-mono-pcm"),
        (48000, "raw-48khz-16bit-mono-pcm"),
    ],
)
async def test_the_request_has_every_header_azure_requires(
    azure: Harness, rate: int, output_format: str
) -> None:
    audio = await synthesize(azure.adapter(sample_rate=rate))
    assert_tone(audio, rate)
    seen = azure.last
    assert seen.path == "/cognitiveservices/v1"
    assert seen.headers["ocp-apim-subscription-key"] == azure.fake.api_key
    assert seen.headers["content-type"] == "application/ssml+xml"
    assert seen.headers["x-microsoft-outputformat"] == output_format
    assert seen.headers["user-agent"] == "callwright"


async def test_voice_and_language(azure: Harness) -> None:
    options = TTSOptions(voice_id="hi-IN-AartiNeural")
    await synthesize(azure.adapter(), options=options)
    assert azure.fake.spoken[-1] == Spoken("hi-IN-AartiNeural", "hi-IN", SENTENCE, {}, {})
    options = TTSOptions(voice_id="en-US-AvaMultilingualNeural", language="fr-FR")
    await synthesize(azure.adapter(), options=options)
    assert azure.fake.spoken[-1].language == "fr-FR"
    assert azure.fake.spoken[-1].voice == "en-US-AvaMultilingualNeural"


async def test_a_voice_that_is_not_azures_falls_back(
    azure: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        await synthesize(azure.adapter(), options=TTSOptions(voice_id="rachel"))
    spoken = azure.fake.spoken[-1]
    assert (spoken.voice, spoken.language) == (DEFAULT_AZURE_VOICE, "en-US")
    assert "'rachel' is not an Azure voice name" in caplog.text


@pytest.mark.parametrize(
    "text",
    [
        """Tom & Jerry's "<best>" price is > $5 & < $10.""",
        "</prosody></voice><voice name='en-US-GuyNeural'>Injected",
        "<![CDATA[ x ]]> <!-- comment --> &amp; &#x41; <?pi x?>",
        "Quotes ' and \" inside",
    ],
)
async def test_ssml_carries_any_text_exactly(azure: Harness, text: str) -> None:
    options = TTSOptions(extra={"pitch": "+5%"})  # text inside a prosody element too
    await synthesize(azure.adapter(), text, options)
    spoken = azure.fake.spoken[-1]
    assert spoken.text == text
    assert spoken.voice == DEFAULT_AZURE_VOICE
    assert spoken.prosody == {"pitch": "+5%"}


async def test_characters_xml_cannot_carry_are_dropped(azure: Harness) -> None:
    await synthesize(azure.adapter(), "Hello\x00\x07 there\x1b.")
    assert azure.fake.spoken[-1].text == "Hello there."


async def test_prosody_and_style_from_provider_config(azure: Harness) -> None:
    extra = {
        "speed": 1.2,
        "pitch": "-2st",
        "volume": "soft",
        "style": "cheerful",
        "style_degree": 1.5,
        "api_key": "per-assistant-key",
        "region": "westeurope",
    }
    await synthesize(azure.adapter(), options=TTSOptions(extra=extra))
    spoken = azure.fake.spoken[-1]
    assert spoken.prosody == {"rate": "1.2", "pitch": "-2st", "volume": "soft"}
    assert spoken.express_as == {"style": "cheerful", "styledegree": "1.5"}
    assert spoken.text == SENTENCE
    assert b"per-assistant-key" not in azure.last.body


@pytest.mark.parametrize(
    "extra",
    [
        {"pitch": "+5%' onload='x"},
        {"rate": "<fast>"},
        {"volume": True},
        {"speed": "quick"},
        {"style": "cheer ful"},
        {"style": "cheerful", "style_degree": "max"},
    ],
)
async def test_bad_prosody_is_refused_before_any_request(
    azure: Harness, extra: dict[str, object]
) -> None:
    with pytest.raises(ProviderRequestError):
        await synthesize(azure.adapter(), options=TTSOptions(extra=extra))
    assert azure.fake.received == []


def test_bad_construction_is_refused_at_once() -> None:
    with pytest.raises(ValueError, match="region"):
        AzureTTS("key", region="eastus.evil.example/x")
    with pytest.raises(ValueError, match="not 11025 Hz"):
        AzureTTS("key", region="eastus", sample_rate=11025)
    AzureTTS("key", region="anything at all", base_url="https://speech.example")


def _azure_options(**tts: object) -> TTSOptions:
    """The voice options a call of an assistant with these ``tts_settings`` hands the
    adapter: the assistant's fields through the config snapshot and the catalog."""
    from callwright.domain.assistants.schemas import AssistantIn
    from callwright.engine.config import CallConfig

    document = AssistantIn(name="voice", tts_settings={"provider": "azure", **tts}).model_dump(
        mode="json"
    )
    return CallConfig.from_settings(document).tts


async def test_style_is_the_styledegree_of_the_named_speaking_style(azure: Harness) -> None:
    await synthesize(
        azure.adapter(), options=_azure_options(style=0.8, provider_config={"style": "sad"})
    )
    assert azure.fake.spoken[-1].express_as == {"style": "sad", "styledegree": "1.6"}
    # provider_config.style_degree wins; style left at 0 leaves Azure's default.
    both = _azure_options(style=0.8, provider_config={"style": "sad", "style_degree": 0.5})
    await synthesize(azure.adapter(), options=both)
    assert azure.fake.spoken[-1].express_as == {"style": "sad", "styledegree": "0.5"}
    await synthesize(azure.adapter(), options=_azure_options(provider_config={"style": "sad"}))
    assert azure.fake.spoken[-1].express_as == {"style": "sad"}


def test_style_without_a_named_speaking_style_is_unsupported_on_azure() -> None:
    from callwright.providers.tts.voice_settings import unsupported_voice_settings

    assert unsupported_voice_settings("azure", {"style": 0.8}) == ["tts_settings.style"]
    named = {"style": 0.8, "provider_config": {"style": "sad"}}
    assert unsupported_voice_settings("azure", named) == []
