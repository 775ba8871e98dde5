"""PlayHT: both documented auth headers, the body PlayHT's streaming endpoint takes,
the format that matches the transport (μ-law on a phone line, a WAV stream otherwise),
provider_config merged, and PlayHT found through the catalog like any vendor: its
user id travels with its key, from one place."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncIterator

import pytest

from callwright.domain.assistants.schemas import AssistantIn
from callwright.domain.credentials.resolution import resolve
from callwright.domain.credentials.service import check_fields
from callwright.errors import ValidationFailed
from callwright.providers.errors import ProviderUnavailable
from callwright.providers.protocols import TTSOptions
from callwright.providers.tts.playht import DEFAULT_PLAYHT_ENGINE, DEFAULT_PLAYHT_VOICE, PlayHTTTS
from callwright.runtime.providers_cloud import CloudProviders
from callwright.settings import Settings
from tests.providers.tts.support import SENTENCE, Harness, assert_tone, serve, synthesize
from tests.vendor_fakes.playht import wav_header
from tests.vendor_fakes.tts_support import Receive, Scope, Send, tone

VOICE = (
    "s3://voice-cloning-zero-shot/775ae416-49bb-4fb6-bd45-740f205d20a1/jennifersaad/manifest.json"
)


async def test_every_setting_reaches_the_vendor(playht: Harness) -> None:
    options = TTSOptions(voice_id=VOICE, model_id="PlayDialog", language="en-US")
    audio = await synthesize(playht.adapter(sample_rate=24000), options=options)
    assert_tone(audio, 24000)
    seen = playht.last
    assert (seen.path, seen.headers["content-type"]) == ("/api/v2/tts/stream", "application/json")
    assert seen.headers["authorization"] == playht.fake.api_key  # as it is, no scheme
    assert seen.headers["x-user-id"] == playht.fake.user_id
    assert seen.headers["accept"] == "audio/wav"
    assert json.loads(seen.body) == {
        "text": SENTENCE,
        "voice": VOICE,
        "voice_engine": "PlayDialog",
        "output_format": "wav",
        "sample_rate": 24000,
    }


async def test_a_phone_line_gets_mulaw_decoded_to_pcm16(playht: Harness) -> None:
    assert_tone(await synthesize(playht.adapter(sample_rate=8000)), 8000)
    body = json.loads(playht.last.body)
    assert (body["output_format"], body["sample_rate"]) == ("mulaw", 8000)
    assert playht.last.headers["accept"] == "audio/basic"


async def test_a_name_that_is_no_playht_voice_falls_back_on_its_stock_voice(
    playht: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        await synthesize(playht.adapter(), options=TTSOptions(voice_id="rachel"))
    body = json.loads(playht.last.body)
    assert (body["voice"], body["voice_engine"]) == (DEFAULT_PLAYHT_VOICE, DEFAULT_PLAYHT_ENGINE)
    assert "'rachel' is not a PlayHT voice" in caplog.text


async def test_provider_config_joins_the_body_but_not_what_callwright_sets(
    playht: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    extra = {
        "speed": 1.2,
        "quality": "draft",
        "seed": 7,
        "sample_rate": 48000,  # callwright's: the transport decides
        "api_key": "own-key",  # the credential's: headers, never the body
        "user_id": "own-user",
    }
    with caplog.at_level(logging.WARNING):
        await synthesize(playht.adapter(), options=TTSOptions(voice_id=VOICE, extra=extra))
    body = json.loads(playht.last.body)
    assert {key: body.get(key) for key in ("speed", "quality", "seed")} == {
        "speed": 1.2,
        "quality": "draft",
        "seed": 7,
    }
    assert body["sample_rate"] == 16000
    assert "api_key" not in body
    assert "user_id" not in body
    assert "provider_config.sample_rate is set by callwright" in caplog.text


def test_a_rate_playht_does_not_stream_is_refused() -> None:
    with pytest.raises(ValueError, match="not 11025 Hz"):
        PlayHTTTS("key", user_id="user", sample_rate=11025)


@contextlib.asynccontextmanager
async def _serving_wav(header: bytes, rate: int) -> AsyncIterator[str]:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        await receive()
        start = {"type": "http.response.start", "status": 200, "headers": []}
        await send(start)
        await send({"type": "http.response.body", "body": header, "more_body": True})
        await send({"type": "http.response.body", "body": tone(rate, 0.2)})

    async with serve(app) as url:
        yield url


async def test_audio_in_another_format_than_asked_is_refused() -> None:
    async with _serving_wav(wav_header(22050), 22050) as url:
        tts = PlayHTTTS("key", user_id="user", base_url=url, sample_rate=16000)
        try:
            with pytest.raises(ProviderUnavailable, match="at 22050 Hz"):
                await synthesize(tts)
        finally:
            await tts.aclose()


async def test_a_body_that_is_no_wav_is_refused() -> None:
    async with _serving_wav(b"ID3\x04" + b"\x00" * 40, 16000) as url:
        tts = PlayHTTTS("key", user_id="user", base_url=url, sample_rate=16000)
        try:
            with pytest.raises(ProviderUnavailable, match="not a WAV stream"):
                await synthesize(tts)
        finally:
            await tts.aclose()


# -- through the catalog ---------------------------------------------------------------


def _document(provider_config: dict[str, str]) -> dict[str, object]:
    settings = {"provider": "playht", "voice_id": VOICE, "provider_config": provider_config}
    return AssistantIn(name="playht", tts_settings=settings).model_dump(mode="json")


def test_the_user_id_comes_from_the_same_place_as_the_key() -> None:
    environ = {"PLAYHT_API_KEY": "env-key", "PLAYHT_USER_ID": "env-user"}
    server = Settings(provider_environment=environ)
    own = resolve(_document({"api_key": "own-key", "user_id": "own-user"}), {}, server).tts
    assert (own.ok, own.values["api_key"], own.values["user_id"]) == (True, "own-key", "own-user")
    stored = {"playht": {"api_key": "org-key", "user_id": "org-user"}}
    organization = resolve(_document({}), stored, server).tts
    assert (organization.source, organization.values["user_id"]) == ("organization", "org-user")
    environment = resolve(_document({}), {}, server).tts
    assert (environment.source, environment.values["user_id"]) == ("environment", "env-user")
    # A key without its user id is not made whole from elsewhere.
    half = resolve(_document({"api_key": "own-key"}), stored, server).tts
    assert (half.ok, half.missing) == (False, ("user_id",))
    problem = half.problem() or ""
    assert "tts_settings.provider_config.user_id" in problem
    assert "CALLWRIGHT_PLAYHT_USER_ID or PLAYHT_USER_ID" in problem


def test_a_stored_credential_needs_the_user_id() -> None:
    check_fields("playht", {"api_key": "k", "user_id": "u"})
    with pytest.raises(ValidationFailed) as refused:
        check_fields("playht", {"api_key": "k"})
    assert refused.value.details[0]["field"] == "user_id"


async def test_the_catalog_makes_the_adapter_with_both_values(playht: Harness) -> None:
    environ = {"CALLWRIGHT_PLAYHT_BASE_URL": playht.base_url}
    server = Settings(provider_environment=environ)
    document = _document({"api_key": playht.fake.api_key, "user_id": playht.fake.user_id})
    resolved = resolve(document, {}, server).tts
    cloud = CloudProviders()
    try:
        tts = cloud.tts(resolved, 8000)
        assert isinstance(tts, PlayHTTTS)
        assert_tone(await synthesize(tts), 8000)
    finally:
        await cloud.aclose()
