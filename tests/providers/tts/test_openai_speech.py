"""OpenAI speech: the request body carries model, voice, input and the raw PCM format;
provider_config joins the body; voices outside OpenAI's set fall back on OpenAI."""

from __future__ import annotations

import json
import logging

import pytest

from callwright.providers.errors import ProviderRequestError
from callwright.providers.protocols import TTSOptions
from callwright.providers.tts.openai_speech import OpenAISpeechTTS
from tests.providers.tts.support import SENTENCE, Harness, synthesize


async def test_every_setting_reaches_the_vendor(openai_speech: Harness) -> None:
    options = TTSOptions(voice_id="coral", model_id="gpt-4o-mini-tts")
    await synthesize(openai_speech.adapter(), options=options)
    seen = openai_speech.last
    assert seen.path == "/v1/audio/speech"
    assert seen.headers["authorization"] == f"Bearer {openai_speech.fake.api_key}"
    assert seen.headers["content-type"] == "application/json"
    assert json.loads(seen.body) == {
        "model": "gpt-4o-mini-tts",
        "voice": "coral",
        "input": SENTENCE,
        "response_format": "pcm",
    }


async def test_defaults(openai_speech: Harness) -> None:
    tts = openai_speech.adapter()
    assert tts.sample_rate == 24000
    await synthesize(tts, options=TTSOptions())
    body = json.loads(openai_speech.last.body)
    assert (body["model"], body["voice"]) == ("tts-1", "alloy")


async def test_provider_config_joins_the_body(openai_speech: Harness) -> None:
    extra = {
        "speed": 1.5,
        "instructions": "Speak warmly.",
        "api_key": "per-assistant-key",
        "response_format": "mp3",
        "input": "something else",
    }
    await synthesize(openai_speech.adapter(), options=TTSOptions(extra=extra))
    body = json.loads(openai_speech.last.body)
    assert body["speed"] == 1.5
    assert body["instructions"] == "Speak warmly."
    assert body["response_format"] == "pcm"
    assert body["input"] == SENTENCE
    assert "api_key" not in body


async def test_a_request_the_vendor_refuses_is_a_request_error(openai_speech: Harness) -> None:
    with pytest.raises(ProviderRequestError, match="speed must be between"):
        await synthesize(openai_speech.adapter(), options=TTSOptions(extra={"speed": 9}))


async def test_voices_outside_openais_set_fall_back_on_openai(
    openai_speech: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    strict = OpenAISpeechTTS("sk-test", base_url=f"{openai_speech.base_url}/v1", strict_voices=True)
    try:
        with caplog.at_level(logging.WARNING):
            await synthesize(strict, options=TTSOptions(voice_id="rachel"))
        assert json.loads(openai_speech.last.body)["voice"] == "alloy"
        assert "no voice 'rachel'" in caplog.text
        await synthesize(strict, options=TTSOptions(voice_id="Nova"))
        assert json.loads(openai_speech.last.body)["voice"] == "nova"
    finally:
        await strict.aclose()


async def test_other_servers_voices_pass_through(openai_speech: Harness) -> None:
    await synthesize(openai_speech.adapter(), options=TTSOptions(voice_id="af_bella"))
    assert json.loads(openai_speech.last.body)["voice"] == "af_bella"


def test_voices_are_checked_only_against_openai_itself() -> None:
    assert OpenAISpeechTTS("k").strict_voices
    assert OpenAISpeechTTS("k", base_url="https://api.openai.com/v1/").strict_voices
    assert not OpenAISpeechTTS("k", base_url="http://localhost:8880/v1").strict_voices
    with pytest.raises(ValueError, match="base URL"):
        OpenAISpeechTTS("k", base_url="localhost:8880")
