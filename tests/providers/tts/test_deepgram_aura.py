"""Deepgram Aura: the query names the model (and with it the voice), encoding and rate;
the session is Speak, Flush, then Close; provider_config becomes query parameters."""

from __future__ import annotations

import logging

import pytest

from callwright.providers.errors import ProviderRequestError
from callwright.providers.protocols import TTSOptions
from callwright.providers.tts.deepgram_aura import DEFAULT_AURA_MODEL, DeepgramAuraTTS
from tests.providers.tts.support import SENTENCE, Harness, synthesize


async def test_every_setting_reaches_the_vendor(deepgram: Harness) -> None:
    options = TTSOptions(voice_id="aura-2-apollo-en")
    await synthesize(deepgram.adapter(sample_rate=8000), f"  {SENTENCE}\n", options)
    seen = deepgram.last
    assert seen.path == "/v1/speak"
    assert seen.headers["authorization"] == f"Token {deepgram.fake.api_key}"
    assert seen.query == {
        "model": "aura-2-apollo-en",
        "encoding": "linear16",
        "sample_rate": "8000",
    }
    assert seen.messages == [
        {"type": "Speak", "text": SENTENCE},
        {"type": "Flush"},
        {"type": "Close"},
    ]


@pytest.mark.parametrize(
    ("voice_id", "model_id", "expected"),
    [
        ("aura-2-thalia-en", None, "aura-2-thalia-en"),
        ("aura-asteria-en", "aura-2-orion-en", "aura-asteria-en"),
        ("rachel", "aura-2-orion-en", "aura-2-orion-en"),
        (None, None, DEFAULT_AURA_MODEL),
    ],
)
async def test_the_voice_is_the_aura_model(
    deepgram: Harness, voice_id: str | None, model_id: str | None, expected: str
) -> None:
    options = TTSOptions(voice_id=voice_id, model_id=model_id)
    await synthesize(deepgram.adapter(), options=options)
    assert deepgram.last.query["model"] == expected


async def test_a_foreign_voice_falls_back_with_a_warning(
    deepgram: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        await synthesize(deepgram.adapter(), options=TTSOptions(voice_id="rachel"))
    assert deepgram.last.query["model"] == DEFAULT_AURA_MODEL
    assert "'rachel' is not one" in caplog.text


async def test_provider_config_becomes_query_parameters(deepgram: Harness) -> None:
    extra = {
        "speed": 1.25,
        "mip_opt_out": True,
        "tag": "callwright",
        "api_key": "per-assistant-key",
        "encoding": "mp3",
        "sample_rate": 48000,
    }
    await synthesize(deepgram.adapter(), options=TTSOptions(extra=extra))
    assert deepgram.last.query == {
        "model": DEFAULT_AURA_MODEL,
        "encoding": "linear16",
        "sample_rate": "16000",
        "speed": "1.25",
        "mip_opt_out": "true",
        "tag": "callwright",
    }


async def test_a_nested_provider_config_value_is_refused(deepgram: Harness) -> None:
    with pytest.raises(ProviderRequestError, match=r"provider_config\.speed"):
        await synthesize(deepgram.adapter(), options=TTSOptions(extra={"speed": {"x": 1}}))


async def test_an_unknown_model_is_a_request_error(deepgram: Harness) -> None:
    options = TTSOptions(model_id="aura")  # not "aura-..."; the default is used instead
    await synthesize(deepgram.adapter(), options=options)
    assert deepgram.last.query["model"] == DEFAULT_AURA_MODEL
    deepgram.fake.faults.status = 400
    with pytest.raises(ProviderRequestError, match="HTTP 400"):
        await synthesize(deepgram.adapter())


def test_bad_construction_is_refused_at_once() -> None:
    with pytest.raises(ValueError, match="not 22050 Hz"):
        DeepgramAuraTTS("key", sample_rate=22050)
