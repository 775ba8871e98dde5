"""``tts_settings``, field by field, from the assistant resource to the vendor's
request: the call's provider factory (``runtime.registry.build_providers``) picks the
voice the assistant names and points it at the vendor's endpoint (its local fake,
given as the organization's credential), and the voice speaks with the options the
call builds from the same document (``CallConfig``). What each setting does per vendor
is the README's "Voice settings by vendor" table; a setting a vendor has no
equivalent for is named (tests/api/test_validate.py, tests/runtime/test_registry.py)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from callwright.engine.config import CallConfig
from callwright.runtime.providers_cloud import CloudProviders
from callwright.runtime.registry import build_providers
from callwright.security.outbound import OutboundPolicy
from callwright.settings import Settings
from tests.fields.support import StubOffline, document
from tests.providers.tts.support import serve, synthesize
from tests.support.optional import require
from tests.vendor_fakes.cartesia import CartesiaFake
from tests.vendor_fakes.deepgram_speak import DeepgramSpeakFake
from tests.vendor_fakes.elevenlabs import ElevenLabsFake
from tests.vendor_fakes.openai_speech import OpenAISpeechFake
from tests.vendor_fakes.playht import USER_ID, PlayHTFake
from tests.vendor_fakes.tts_support import Received

require("onnxruntime", "the call's provider factory builds Silero VAD (offline extra)")

RACHEL = "21m00Tcm4TlvDq8ikWAM"  # ElevenLabs' id of the voice named "rachel"

# vendor -> (its fake, the path under the fake's URL its adapter is given)
FAKES: dict[str, tuple[Callable[[], Any], str]] = {
    "elevenlabs": (ElevenLabsFake, ""),
    "cartesia": (CartesiaFake, ""),
    "deepgram": (DeepgramSpeakFake, ""),
    "openai": (OpenAISpeechFake, "/v1"),
    "playht": (PlayHTFake, ""),
}


class Voice:
    """A vendor's fake, served, and what it received for an assistant's settings."""

    def __init__(self, vendor: str, fake: Any, base_url: str) -> None:
        self.vendor, self.fake, self.base_url = vendor, fake, base_url

    async def request(self, **tts_settings: Any) -> Received:
        """What the vendor receives when a call of an assistant with these
        ``tts_settings`` (and this vendor as its provider) says a sentence."""
        settings = document(tts_settings={"provider": self.vendor, **tts_settings})
        credential = {"api_key": self.fake.api_key, "base_url": self.base_url}
        if self.vendor == "playht":
            credential["user_id"] = USER_ID
        cloud = CloudProviders(OutboundPolicy(allowed_hosts="127.0.0.1"))
        try:
            providers, choices = build_providers(
                settings,
                StubOffline(),
                cloud=cloud,
                credentials={self.vendor: credential},
                server=Settings(),
            )
            (voice,) = [choice for choice in choices if choice.kind == "tts"]
            assert voice.chosen == self.vendor, voice.reason
            await synthesize(providers.tts, "Hello there.", CallConfig.from_settings(settings).tts)
        finally:
            await cloud.aclose()
        received: Received = self.fake.received[-1]
        return received


async def _voice(vendor: str) -> AsyncIterator[Voice]:
    make, path = FAKES[vendor]
    fake = make()
    async with serve(fake) as url:
        yield Voice(vendor, fake, f"{url}{path}")


@pytest.fixture
async def elevenlabs() -> AsyncIterator[Voice]:
    async for voice in _voice("elevenlabs"):
        yield voice


@pytest.fixture(params=list(FAKES))
async def any_voice(request: pytest.FixtureRequest) -> AsyncIterator[Voice]:
    async for voice in _voice(request.param):
        yield voice


def _voice_settings(received: Received) -> dict[str, Any]:
    settings: dict[str, Any] = received.messages[0].get("voice_settings") or {}
    return settings


async def test_tts_settings_latency(elevenlabs: Voice) -> None:
    assert (await elevenlabs.request()).query["optimize_streaming_latency"] == "1"
    seen = await elevenlabs.request(latency=4)
    assert seen.query["optimize_streaming_latency"] == "4"


async def test_tts_settings_stability(elevenlabs: Voice) -> None:
    assert _voice_settings(await elevenlabs.request())["stability"] == 0.5  # the default
    assert _voice_settings(await elevenlabs.request(stability=0.15))["stability"] == 0.15


async def test_tts_settings_similarity_boost(elevenlabs: Voice) -> None:
    seen = await elevenlabs.request(similarity_boost=0.95)
    assert _voice_settings(seen)["similarity_boost"] == 0.95


async def test_tts_settings_style(elevenlabs: Voice) -> None:
    assert _voice_settings(await elevenlabs.request(style=0.6))["style"] == 0.6


async def test_tts_settings_use_speaker_boost(elevenlabs: Voice) -> None:
    seen = await elevenlabs.request(use_speaker_boost=False)
    assert _voice_settings(seen)["use_speaker_boost"] is False


async def test_tts_settings_provider_config(elevenlabs: Voice) -> None:
    seen = await elevenlabs.request(provider_config={"apply_text_normalization": "off"})
    assert seen.query["apply_text_normalization"] == "off"


def _model_and_voice(vendor: str, seen: Received) -> tuple[str, str]:
    """The model and voice a vendor's request names, wherever the vendor wants them."""
    if vendor == "elevenlabs":
        return seen.query["model_id"], seen.path.split("/")[3]
    if vendor == "cartesia":
        return seen.messages[0]["model_id"], seen.messages[0]["voice"]["id"]
    if vendor == "deepgram":
        return seen.query["model"], seen.query["model"]  # the voice is the Aura model
    body = json.loads(seen.body)
    if vendor == "openai":
        return body["model"], body["voice"]
    return body["voice_engine"], body["voice"]  # playht


PLAYHT_VOICE = "s3://voice-cloning-zero-shot/x/jennifersaad/manifest.json"
CARTESIA_VOICE = "a0e99841-438c-4a64-b679-ae501e7d6091"
# vendor -> (the tts_settings an assistant sets, the model the vendor is asked for)
_MODELS: dict[str, tuple[dict[str, Any], str]] = {
    "elevenlabs": ({"model_id": "eleven_turbo_v2_5"}, "eleven_turbo_v2_5"),
    "cartesia": ({"model_id": "sonic-3", "voice_id": CARTESIA_VOICE}, "sonic-3"),
    # Deepgram's voice is its model: model_id serves when voice_id is not an Aura one.
    "deepgram": ({"model_id": "aura-2-orion-en", "voice_id": "rachel"}, "aura-2-orion-en"),
    "openai": ({"model_id": "gpt-4o-mini-tts"}, "gpt-4o-mini-tts"),
    "playht": ({"model_id": "PlayDialog", "voice_id": PLAYHT_VOICE}, "PlayDialog"),
}
# vendor -> (voice_id, the voice the vendor is asked for)
_VOICES = {
    "elevenlabs": ("rachel", RACHEL),
    "cartesia": (CARTESIA_VOICE, CARTESIA_VOICE),
    "deepgram": ("aura-2-apollo-en", "aura-2-apollo-en"),
    "openai": ("coral", "coral"),
    "playht": (PLAYHT_VOICE, PLAYHT_VOICE),
}


async def test_tts_settings_provider(any_voice: Voice) -> None:
    """The vendor named is the one whose endpoint is called (``Voice.request`` also
    checks the call's provider choice names it)."""
    await any_voice.request()
    assert len(any_voice.fake.received) == 1


async def test_tts_settings_model_id(any_voice: Voice) -> None:
    tts_settings, model = _MODELS[any_voice.vendor]
    seen = await any_voice.request(**tts_settings)
    assert _model_and_voice(any_voice.vendor, seen)[0] == model


async def test_tts_settings_voice_id(any_voice: Voice) -> None:
    voice_id, voice = _VOICES[any_voice.vendor]
    seen = await any_voice.request(voice_id=voice_id)
    assert _model_and_voice(any_voice.vendor, seen)[1] == voice
