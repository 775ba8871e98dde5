"""Contract tests: ``OpenAITranscriptionSTT`` against the OpenAI transcription fake."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from callwright.providers.errors import (
    ProviderAuthError,
    ProviderRateLimited,
    ProviderTimeout,
    ProviderUnavailable,
)
from callwright.providers.protocols import STTOptions
from callwright.providers.stt.openai_transcribe import OpenAITranscriptionSTT
from tests.providers.stt.support import collect, drain, push, serve, silence
from tests.vendor_fakes.openai_audio import OpenAIAudioFake

BOOK = "I would like to book a table for two."
OPEN = "What time do you open tomorrow?"


@pytest.fixture
async def fake() -> AsyncIterator[OpenAIAudioFake]:
    fake = OpenAIAudioFake(script=(BOOK, OPEN))
    async with serve(fake.app) as url:
        fake.url = f"{url}/v1"
        yield fake


def stt_for(fake: OpenAIAudioFake, **settings: float | str) -> OpenAITranscriptionSTT:
    return OpenAITranscriptionSTT("sk-test-key", base_url=fake.url, **settings)  # type: ignore[arg-type]


async def test_each_utterance_is_one_request_and_one_final(
    fake: OpenAIAudioFake, book_table: bytes, open_tomorrow: bytes
) -> None:
    stream = await stt_for(fake).open_stream(STTOptions())
    try:
        await push(stream, silence(1.0))
        stream.discard_utterance()  # the engine's VAD heard nobody: keep 300 ms
        await push(stream, book_table)
        await stream.end_utterance()
        await push(stream, open_tomorrow)
        await stream.end_utterance()
        first, second = await collect(stream, finals=2)
    finally:
        await stream.aclose()

    assert (first.text, first.is_final, second.text, second.is_final) == (BOOK, True, OPEN, True)
    book_s, open_s = len(book_table) / 32000, len(open_tomorrow) / 32000
    assert first.start_s == pytest.approx(0.7)
    assert first.end_s == pytest.approx(1.0 + book_s)
    assert (second.start_s, second.end_s) == pytest.approx((first.end_s, first.end_s + open_s))
    upload = fake.received[0]
    assert upload.headers["authorization"] == "Bearer sk-test-key"
    assert upload.headers["content-type"].startswith("multipart/form-data")
    assert upload.fields == {"model": "whisper-1", "language": "en", "response_format": "json"}
    assert (upload.sample_rate, upload.audio) == (16000, silence(0.3) + book_table)
    assert fake.received[1].audio == open_tomorrow


async def test_settings_become_form_fields(fake: OpenAIAudioFake, book_table: bytes) -> None:
    options = STTOptions(
        model="gpt-4o-transcribe",
        language="de-DE",
        keywords=(("Callwright", 2.0), ("umm", -1.0)),
        keyterms=("table for two",),
        extra={"prompt": "A restaurant booking.", "temperature": 0.2, "audio_denoising": True},
    )
    stream = await stt_for(fake).open_stream(options)
    try:
        await push(stream, book_table)
        await stream.end_utterance()
    finally:
        await stream.aclose()
    assert fake.received[0].fields == {
        "model": "gpt-4o-transcribe",
        "language": "de",
        "prompt": "A restaurant booking. Callwright, table for two",
        "response_format": "json",
        "temperature": "0.2",
    }


async def test_a_model_of_another_vendor_falls_back_to_the_stt_model(
    fake: OpenAIAudioFake, book_table: bytes
) -> None:
    stt = stt_for(fake, model="gpt-4o-mini-transcribe")
    stream = await stt.open_stream(STTOptions(model="nova-2", language=None))
    try:
        await push(stream, book_table)
        await stream.end_utterance()
    finally:
        await stream.aclose()
    assert fake.received[0].fields == {"model": "gpt-4o-mini-transcribe", "response_format": "json"}


async def test_a_too_short_utterance_is_not_sent(fake: OpenAIAudioFake) -> None:
    stream = await stt_for(fake).open_stream(STTOptions())
    await push(stream, silence(0.06))
    await stream.end_of_audio()
    assert await drain(stream) == []
    assert fake.received == []
    await stream.aclose()


async def test_end_of_audio_transcribes_then_ends(fake: OpenAIAudioFake, book_table: bytes) -> None:
    stream = await stt_for(fake).open_stream(STTOptions())
    await push(stream, book_table)
    await stream.end_of_audio()
    assert [t.text for t in await drain(stream)] == [BOOK]
    with pytest.raises(RuntimeError):
        await stream.push_audio(silence(0.02))
    await stream.end_of_audio()  # idempotent
    await stream.aclose()


async def test_a_long_utterance_is_cut_and_sent_on_its_own(
    fake: OpenAIAudioFake, book_table: bytes
) -> None:
    stream = await stt_for(fake, max_utterance_s=1.5).open_stream(STTOptions())
    try:
        await push(stream, book_table)  # 1.97 s: cut at 1.5 s, no end_utterance needed
        (final,) = await collect(stream, finals=1)
    finally:
        await stream.aclose()
    assert (final.text, final.start_s, final.end_s) == (BOOK, 0.0, 1.5)


@pytest.mark.parametrize(
    ("fault", "error", "message"),
    [
        ("auth", ProviderAuthError, "401"),
        ("rate", ProviderRateLimited, "429"),
        ("server", ProviderUnavailable, "500"),
        ("disconnect", ProviderUnavailable, "connection failed"),
    ],
)
async def test_failures_are_provider_errors(
    fake: OpenAIAudioFake, book_table: bytes, fault: str, error: type[Exception], message: str
) -> None:
    fake.fault = fault
    stream = await stt_for(fake).open_stream(STTOptions())
    await push(stream, book_table)
    with pytest.raises(error, match=message) as raised:
        await stream.end_utterance()
    with pytest.raises(error):  # the consumer of transcripts() learns it too
        await drain(stream)
    with pytest.raises(error):
        await stream.push_audio(silence(0.02))
    await stream.aclose()
    if fault == "rate":
        assert raised.value.retry_after_s == 7  # type: ignore[attr-defined]


async def test_a_slow_answer_times_out(fake: OpenAIAudioFake, book_table: bytes) -> None:
    fake.delay_s = 3.0
    stream = await stt_for(fake, timeout_s=0.2).open_stream(STTOptions())
    await push(stream, book_table)
    with pytest.raises(ProviderTimeout):
        async with asyncio.timeout(2):
            await stream.end_utterance()
    await stream.aclose()


async def test_aclose_cancels_work_and_closes_the_client(
    fake: OpenAIAudioFake, book_table: bytes
) -> None:
    fake.delay_s = 3.0
    stream = await stt_for(fake, max_utterance_s=1.0).open_stream(STTOptions())
    await push(stream, book_table)  # starts a background transcription
    async with asyncio.timeout(1):
        await stream.aclose()
    await stream.aclose()  # idempotent
    assert stream._client.is_closed()
    assert await drain(stream, timeout_s=1) == []
