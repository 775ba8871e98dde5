"""Contract tests: ``AssemblyAISTT`` against the Universal-Streaming (v3) fake."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest

from callwright.providers.errors import (
    ProviderAuthError,
    ProviderRateLimited,
    ProviderRequestError,
    ProviderTimeout,
    ProviderUnavailable,
)
from callwright.providers.protocols import STTOptions
from callwright.providers.stt.assemblyai import AssemblyAIOptions, AssemblyAIStream, AssemblyAISTT
from tests.providers.stt.support import collect, drain, push, serve, silence
from tests.vendor_fakes.assemblyai_stream import AssemblyAIStreamFake

BOOK = "I would like to book a table for two."
OPEN = "What time do you open tomorrow?"


@pytest.fixture
async def fake() -> AsyncIterator[AssemblyAIStreamFake]:
    fake = AssemblyAIStreamFake(script=[BOOK, OPEN])
    async with serve(fake.app) as url:
        fake.url = url
        yield fake


def stt_for(fake: AssemblyAIStreamFake, **tuning: float) -> AssemblyAISTT:
    return AssemblyAISTT("aai-test-key", base_url=fake.url, **tuning)


@pytest.fixture
async def stream(fake: AssemblyAIStreamFake) -> AsyncIterator[AssemblyAIStream]:
    stream = await stt_for(fake).open_stream(STTOptions())
    try:
        yield stream
    finally:
        await stream.aclose()


async def test_partial_turns_then_a_formatted_final(
    fake: AssemblyAIStreamFake, stream: AssemblyAIStream, book_table: bytes
) -> None:
    await push(stream, book_table)
    await stream.end_utterance()
    seen = await collect(stream, finals=1)

    *interims, final = seen
    assert final.is_final
    assert final.text == BOOK
    assert interims
    assert not any(t.is_final for t in interims)
    assert interims[0].text == "i"
    assert interims[-1].text == BOOK.lower().replace(".", "")  # the unformatted end of turn
    assert [w.text for w in final.words] == BOOK.split()
    assert final.words[0].start_s == pytest.approx(0.05, abs=0.02)  # ms → s
    assert final.words[-1].end_s == pytest.approx(1.7, abs=0.1)
    assert final.start_s == final.words[0].start_s
    assert final.end_s == final.words[-1].end_s
    session = fake.sessions[0]
    assert session.control_types() == ["ForceEndpoint"]
    # 20 ms frames went out as 100 ms chunks; the tail was padded to AssemblyAI's 50 ms
    assert set(session.chunk_ms[:-1]) == {100.0}
    assert 50 <= session.chunk_ms[-1] < 100
    assert stream.session_id == fake.sessions[0].sent[0]["id"]


async def test_every_setting_is_a_query_parameter(fake: AssemblyAIStreamFake) -> None:
    options = STTOptions(
        model="nova-2",  # a Deepgram model: AssemblyAI's English model instead
        language="en-GB",
        punctuate=False,
        keywords=(("Callwright", 2.0), ("umm", -1.0)),
        keyterms=("table for two",),
        endpointing_ms=300,
        utterance_end_ms=1200,
        extra={"audio_denoising": True, "end_of_turn_confidence_threshold": 0.7},
        vendor=AssemblyAIOptions(format_turns=False),
    )
    stream = await AssemblyAISTT("aai-test-key", base_url=fake.url, sample_rate=8000).open_stream(
        options
    )
    await stream.aclose()

    session = fake.sessions[0]
    assert session.headers["authorization"] == "aai-test-key"
    assert session.query == {
        "speech_model": "universal-streaming-english",
        "sample_rate": "8000",
        "encoding": "pcm_s16le",
        "format_turns": "false",
        "keyterms_prompt": json.dumps(["table for two", "Callwright"]),
        "min_end_of_turn_silence_when_confident": "300",
        "max_turn_silence": "1200",
        "end_of_turn_confidence_threshold": "0.7",
    }


async def test_model_and_language_choose_the_speech_model(fake: AssemblyAIStreamFake) -> None:
    for options in (STTOptions(language="es-ES"), STTOptions(model="u3-rt-pro")):
        stream = await stt_for(fake).open_stream(options)
        await stream.aclose()
    models = [session.query["speech_model"] for session in fake.sessions]
    assert models == ["universal-streaming-multilingual", "u3-rt-pro"]
    assert "keyterms_prompt" not in fake.sessions[0].query
    assert fake.sessions[0].query["format_turns"] == "true"


async def test_without_interim_results_only_the_final_arrives(
    fake: AssemblyAIStreamFake, book_table: bytes
) -> None:
    stream = await stt_for(fake).open_stream(
        STTOptions(
            interim_results=False, punctuate=False, vendor=AssemblyAIOptions(format_turns=False)
        )
    )
    try:
        await push(stream, book_table + silence(0.6))  # 500 ms of silence ends the turn
        seen = await collect(stream, finals=1)
    finally:
        await stream.aclose()
    assert [(t.text, t.is_final) for t in seen] == [(BOOK.lower().replace(".", ""), True)]
    assert fake.sessions[0].control_types() == []


async def test_terminate_flushes_then_ends_transcripts(
    fake: AssemblyAIStreamFake, stream: AssemblyAIStream, book_table: bytes, open_tomorrow: bytes
) -> None:
    await push(stream, book_table + silence(0.6) + open_tomorrow)
    await stream.end_of_audio()
    seen = await drain(stream)

    finals = [t for t in seen if t.is_final]
    assert [t.text for t in finals] == [BOOK, OPEN]
    assert finals[1].start_s > finals[0].end_s
    assert fake.sessions[0].control_types() == ["Terminate"]
    assert fake.sessions[0].close_code == 1000
    assert stream.audio_duration_s == pytest.approx(
        (len(book_table) + len(open_tomorrow)) / 32000 + 0.6, abs=0.1
    )
    with pytest.raises(RuntimeError):
        await stream.push_audio(silence(0.02))
    await stream.end_of_audio()  # idempotent


async def test_bad_key_is_an_auth_error(fake: AssemblyAIStreamFake) -> None:
    with pytest.raises(ProviderAuthError, match="1008: Unauthorized Connection"):
        await AssemblyAISTT("wrong", base_url=fake.url).open_stream(STTOptions())
    fake.refuse = [401]
    with pytest.raises(ProviderAuthError, match="401"):
        await stt_for(fake).open_stream(STTOptions())


@pytest.mark.parametrize(
    "failure",
    [
        (3009, "Unauthorized Connection: Too many concurrent sessions"),
        (1008, "Unauthorized Connection: Too many concurrent sessions"),
    ],
)
async def test_too_many_sessions_is_rate_limited(
    fake: AssemblyAIStreamFake, failure: tuple[int, str]
) -> None:
    fake.fail_with = failure
    with pytest.raises(ProviderRateLimited, match="concurrent"):
        await stt_for(fake).open_stream(STTOptions())


async def test_server_errors_are_unavailable(fake: AssemblyAIStreamFake) -> None:
    fake.fail_with = (3005, "Session Cancelled: An error occurred")
    with pytest.raises(ProviderUnavailable, match="3005"):
        await stt_for(fake).open_stream(STTOptions())
    fake.fail_with, fake.refuse = None, [500]
    with pytest.raises(ProviderUnavailable, match="500"):
        await stt_for(fake).open_stream(STTOptions())


async def test_a_refused_setting_is_a_request_error(fake: AssemblyAIStreamFake) -> None:
    with pytest.raises(ProviderRequestError, match="3006"):
        await stt_for(fake).open_stream(STTOptions(extra={"encoding": "opus"}))


async def test_a_first_frame_that_is_not_json_is_unavailable(fake: AssemblyAIStreamFake) -> None:
    fake.garbled_begin = "<html>Bad Gateway</html>"
    with pytest.raises(ProviderUnavailable, match=r"not JSON.*Bad Gateway"):
        await stt_for(fake).open_stream(STTOptions())
    [session] = fake.sessions
    async with asyncio.timeout(4):  # a hang detector: the client closes what it opened
        await session.client_closed.wait()


async def test_a_dropped_connection_fails_the_stream(
    fake: AssemblyAIStreamFake, stream: AssemblyAIStream, book_table: bytes
) -> None:
    fake.drop_after_s = 1.0
    await push(stream, book_table)
    with pytest.raises(ProviderUnavailable, match="1011"):
        await drain(stream)
    with pytest.raises(ProviderUnavailable):
        await stream.push_audio(silence(0.02))


async def test_slow_begin_times_out(fake: AssemblyAIStreamFake) -> None:
    fake.begin_delay_s = 5.0
    with pytest.raises(ProviderTimeout, match=r"0\.2 s"):
        async with asyncio.timeout(4):
            await stt_for(fake, first_result_timeout_s=0.2).open_stream(STTOptions())


async def test_aclose_closes_the_session_and_ends_transcripts(
    fake: AssemblyAIStreamFake, book_table: bytes
) -> None:
    stream = await stt_for(fake).open_stream(STTOptions())
    await push(stream, book_table)
    await stream.aclose()
    await stream.aclose()  # idempotent
    assert await drain(stream, timeout_s=1) == []
    async with asyncio.timeout(2):
        await fake.sessions[0].client_closed.wait()
    with pytest.raises(RuntimeError):
        await stream.end_utterance()
