"""Cartesia: the generation request carries every setting in Cartesia's field names,
voices that are not Cartesia ids fall back, and in-band errors map by status."""

from __future__ import annotations

import logging
import uuid

import pytest

from callwright.providers.errors import (
    ProviderRateLimited,
    ProviderRequestError,
    ProviderUnavailable,
)
from callwright.providers.protocols import TTSOptions
from callwright.providers.tts.cartesia import (
    CARTESIA_VERSION,
    DEFAULT_CARTESIA_VOICE,
    CartesiaTTS,
)
from tests.providers.tts.support import SENTENCE, Harness, synthesize

VOICE = "a0e99841-438c-4a64-b679-ae501e7d6091"


async def test_every_setting_reaches_the_vendor(cartesia: Harness) -> None:
    options = TTSOptions(voice_id=VOICE, model_id="sonic-3", language="fr-FR")
    await synthesize(cartesia.adapter(sample_rate=24000), options=options)
    seen = cartesia.last
    assert seen.path == "/tts/websocket"
    assert seen.headers["x-api-key"] == cartesia.fake.api_key
    assert seen.headers["cartesia-version"] == CARTESIA_VERSION
    assert cartesia.fake.api_key not in seen.raw_path + str(seen.query)
    (request,) = seen.messages
    context_id = request.pop("context_id")
    assert uuid.UUID(context_id)
    assert request == {
        "model_id": "sonic-3",
        "voice": {"mode": "id", "id": VOICE},
        "language": "fr",
        "transcript": SENTENCE,
        "output_format": {"container": "raw", "encoding": "pcm_s16le", "sample_rate": 24000},
        "continue": False,
    }


async def test_each_sentence_is_its_own_context(cartesia: Harness) -> None:
    tts = cartesia.adapter()
    await synthesize(tts)
    await synthesize(tts)
    first, second = (record.messages[0]["context_id"] for record in cartesia.fake.received)
    assert first != second


async def test_a_voice_that_is_not_a_cartesia_id_falls_back(
    cartesia: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        await synthesize(cartesia.adapter(), options=TTSOptions(voice_id="rachel"))
    assert cartesia.last.messages[0]["voice"] == {"mode": "id", "id": DEFAULT_CARTESIA_VOICE}
    assert "'rachel' is not one" in caplog.text
    await synthesize(cartesia.adapter(), options=TTSOptions())
    assert cartesia.last.messages[0]["model_id"] == "sonic-2"
    assert "language" not in cartesia.last.messages[0]


async def test_provider_config_is_merged_into_the_request(cartesia: Harness) -> None:
    extra = {
        "generation_config": {"speed": 1.2, "volume": 0.9},
        "voice": {"__experimental_controls": {"emotion": ["positivity:high"]}},
        "cartesia_version": "2026-03-01",
        "api_key": "per-assistant-key",
        "transcript": "something else",
        "output_format": {"container": "mp3"},
    }
    await synthesize(cartesia.adapter(), options=TTSOptions(voice_id=VOICE, extra=extra))
    seen = cartesia.last
    request = seen.messages[0]
    assert request["generation_config"] == {"speed": 1.2, "volume": 0.9}
    assert request["voice"] == {
        "mode": "id",
        "id": VOICE,
        "__experimental_controls": {"emotion": ["positivity:high"]},
    }
    assert seen.headers["cartesia-version"] == "2026-03-01"
    assert request["transcript"] == SENTENCE
    assert request["output_format"]["container"] == "raw"
    assert "cartesia_version" not in request
    assert "per-assistant-key" not in str(seen.messages)


async def test_a_voice_override_that_is_not_an_object_is_refused(cartesia: Harness) -> None:
    with pytest.raises(ProviderRequestError, match=r"provider_config\.voice"):
        await synthesize(cartesia.adapter(), options=TTSOptions(extra={"voice": "x"}))
    assert cartesia.fake.received == []


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (400, ProviderRequestError),
        (402, ProviderRequestError),
        (429, ProviderRateLimited),
        (500, ProviderUnavailable),
    ],
)
async def test_in_band_errors_map_by_status(
    cartesia: Harness, status: int, expected: type[Exception]
) -> None:
    cartesia.fake.in_band_error = status
    with pytest.raises(expected, match="fake in-band error"):
        await synthesize(cartesia.adapter())


def test_bad_construction_is_refused_at_once() -> None:
    with pytest.raises(ValueError, match="not 11025 Hz"):
        CartesiaTTS("key", sample_rate=11025)
    with pytest.raises(ValueError, match="base URL"):
        CartesiaTTS("key", base_url="ftp://api.cartesia.ai")
