"""Contract tests: ``DeepgramSTT`` against the Deepgram live-streaming fake."""

from __future__ import annotations

import asyncio
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
from callwright.providers.stt.deepgram import DeepgramOptions, DeepgramSTT
from callwright.providers.stt.deepgram_stream import DeepgramStream
from tests.providers.stt.support import collect, drain, push, serve, silence
from tests.vendor_fakes.deepgram_listen import DeepgramListenFake

BOOK = "I would like to book a table for two."
OPEN = "What time do you open tomorrow?"


@pytest.fixture
async def fake() -> AsyncIterator[DeepgramListenFake]:
    fake = DeepgramListenFake(script=[BOOK, OPEN])
    async with serve(fake.app) as url:
        fake.url = url
        yield fake


def stt_for(fake: DeepgramListenFake, **tuning: float) -> DeepgramSTT:
    return DeepgramSTT("dg-test-key", base_url=fake.url, **tuning)  # type: ignore[arg-type]


@pytest.fixture
async def stream(fake: DeepgramListenFake) -> AsyncIterator[DeepgramStream]:
    stream = await stt_for(fake).open_stream(STTOptions())
    try:
        yield stream
    finally:
        await stream.aclose()


async def test_interims_then_a_final_with_words_and_times(
    fake: DeepgramListenFake, stream: DeepgramStream, book_table: bytes
) -> None:
    await stream.push_audio(b"")  # an empty frame would end a Deepgram stream: not sent
    await push(stream, book_table)
    await stream.end_utterance()
    seen = await collect(stream, finals=1)

    *interims, final = seen
    assert final.is_final
    assert final.text == BOOK
    assert interims
    assert not any(t.is_final for t in interims)
    assert all(BOOK.startswith(t.text) for t in interims)  # each reveals more of it
    assert [w.text for w in final.words] == BOOK.split()
    starts = [w.start_s for w in final.words]
    assert starts == sorted(starts)
    assert 0.0 < final.words[0].start_s < 0.2  # the speech starts ~50 ms in
    assert final.words[-1].end_s == pytest.approx(1.7, abs=0.1)
    assert final.start_s == 0.0
    assert final.end_s == pytest.approx(len(book_table) / 32000, abs=0.02)
    assert fake.sessions[0].control_types() == ["Finalize"]
    assert fake.sessions[0].sent[-1]["from_finalize"] is True


async def test_every_setting_is_a_query_parameter_for_nova_2(fake: DeepgramListenFake) -> None:
    options = STTOptions(
        model="nova-2-phonecall",
        language="en-GB",
        punctuate=False,
        interim_results=True,
        keywords=(("Callwright", 2.0), ("umm", -1.5)),
        keyterms=("Zurich", "table for two"),
        endpointing_ms=300,
        utterance_end_ms=1200,
        extra={"audio_denoising": True, "tag": "call-7", "diarize": False},
        vendor=DeepgramOptions(smart_format=False),
    )
    stt = DeepgramSTT("dg-test-key", base_url=fake.url, sample_rate=8000)
    stream = await stt.open_stream(options)
    await stream.aclose()

    session = fake.sessions[0]
    assert session.headers["authorization"] == "Token dg-test-key"
    assert sorted(session.query) == sorted(
        [
            ("model", "nova-2-phonecall"),
            ("encoding", "linear16"),
            ("sample_rate", "8000"),
            ("channels", "1"),
            ("language", "en-GB"),
            ("punctuate", "false"),
            ("smart_format", "false"),
            ("interim_results", "true"),
            ("endpointing", "300"),
            ("vad_events", "true"),
            ("utterance_end_ms", "1200"),
            ("keywords", "Callwright:2"),
            ("keywords", "umm:-1.5"),
            ("keywords", "Zurich"),  # the phrase needs nova-3: not sent
            ("tag", "call-7"),
            ("diarize", "false"),
        ]
    )


async def test_nova_3_gets_keyterms_and_extra_overrides(fake: DeepgramListenFake) -> None:
    options = STTOptions(
        model="nova-3",
        interim_results=False,
        keywords=(("Callwright", 2.0), ("umm", -1.5)),
        keyterms=("table for two",),
        endpointing_ms=0,
        extra={"punctuate": "false", "keyterm": ["Zurich", "Basel"]},
    )
    stream = await stt_for(fake).open_stream(options)
    await stream.aclose()

    session = fake.sessions[0]
    assert session.params("keywords") == []
    assert session.params("keyterm") == ["Zurich", "Basel"]  # extra replaces ours
    assert session.params("punctuate") == ["false"]
    assert session.param("endpointing") == "false"
    assert session.param("interim_results") == "false"
    assert session.param("utterance_end_ms") is None  # meaningless without interims
    assert session.param("language") == "en-US"

    stream = await stt_for(fake).open_stream(
        STTOptions(model="nova-3", keywords=(("Callwright", 2.0), ("umm", -1.5)), keyterms=("a b",))
    )
    await stream.aclose()
    assert fake.sessions[1].params("keyterm") == ["a b", "Callwright"]  # no suppression


async def test_without_interim_results_only_finals_arrive(
    fake: DeepgramListenFake, book_table: bytes
) -> None:
    stream = await stt_for(fake).open_stream(STTOptions(interim_results=False))
    try:
        await push(stream, book_table + silence(0.6))  # 500 ms endpointing ends it
        seen = await collect(stream, finals=1)
    finally:
        await stream.aclose()
    assert [(t.text, t.is_final) for t in seen] == [(BOOK, True)]
    assert fake.sessions[0].sent[-1]["speech_final"] is True


async def test_keepalive_keeps_an_idle_stream_open(
    fake: DeepgramListenFake, book_table: bytes
) -> None:
    fake.idle_timeout_s = 0.3
    stream = await stt_for(fake, keepalive_interval_s=0.05).open_stream(STTOptions())
    try:
        await push(stream, silence(0.1))
        await asyncio.sleep(1.0)  # more than three idle timeouts
        await push(stream, book_table)
        await stream.end_utterance()
        seen = await collect(stream, finals=1)
    finally:
        await stream.aclose()
    assert seen[-1].text == BOOK
    assert len(fake.sessions) == 1
    assert fake.sessions[0].close_code is None
    assert fake.sessions[0].control_types().count("KeepAlive") >= 10


async def test_an_idle_stream_without_keepalive_is_closed_by_deepgram(
    fake: DeepgramListenFake,
) -> None:
    # The control for the test above: the fake does enforce its idle timeout.
    fake.idle_timeout_s = 0.3
    stream = await stt_for(fake, max_reconnect_attempts=0).open_stream(STTOptions())
    with pytest.raises(ProviderUnavailable, match="reconnects failed"):
        await drain(stream)
    await stream.aclose()
    assert fake.sessions[0].close_code == 1011


async def test_close_stream_flushes_then_ends_transcripts(
    fake: DeepgramListenFake, stream: DeepgramStream, book_table: bytes
) -> None:
    await push(stream, book_table)
    await stream.end_of_audio()
    seen = await drain(stream)

    assert [t.text for t in seen if t.is_final] == [BOOK]
    assert fake.sessions[0].control_types() == ["CloseStream"]
    assert fake.sessions[0].close_code == 1000
    assert stream.request_id == fake.request_id  # from the closing Metadata
    assert stream.speech_started_s is not None
    assert 0 < stream.speech_started_s < 0.2
    with pytest.raises(RuntimeError):
        await stream.push_audio(silence(0.02))
    await stream.end_of_audio()  # idempotent


async def test_utterance_end_is_reported(
    fake: DeepgramListenFake, stream: DeepgramStream, book_table: bytes
) -> None:
    await push(stream, book_table + silence(0.6))  # endpointing finalises it
    await collect(stream, finals=1)
    await push(stream, silence(1.2))  # utterance_end_ms after the last word
    await stream.end_of_audio()
    await drain(stream)
    assert stream.utterance_end_s == pytest.approx(1.7, abs=0.1)


async def test_bad_key_is_an_auth_error(fake: DeepgramListenFake) -> None:
    with pytest.raises(ProviderAuthError, match="401"):
        await DeepgramSTT("wrong", base_url=fake.url).open_stream(STTOptions())


async def test_rate_limit_is_reported_with_retry_after(fake: DeepgramListenFake) -> None:
    fake.refuse, fake.retry_after = [429], "7"
    with pytest.raises(ProviderRateLimited) as caught:
        await stt_for(fake).open_stream(STTOptions())
    assert caught.value.retry_after_s == 7


async def test_server_error_is_unavailable(fake: DeepgramListenFake) -> None:
    fake.refuse = [500]
    with pytest.raises(ProviderUnavailable, match="500"):
        await stt_for(fake).open_stream(STTOptions())


async def test_a_dropped_connection_is_resumed_without_losing_words(
    fake: DeepgramListenFake, book_table: bytes, open_tomorrow: bytes
) -> None:
    first_length_s = len(book_table) / 32000
    fake.drop_after_s = [first_length_s + 0.5]  # half a second into the second utterance
    stream = await stt_for(fake, reconnect_backoff_s=0.01).open_stream(STTOptions())
    try:
        await push(stream, book_table)
        await stream.end_utterance()
        first = (await collect(stream, finals=1))[-1]
        await push(stream, open_tomorrow)
        await stream.end_utterance()
        second = (await collect(stream, finals=1))[-1]
    finally:
        await stream.aclose()

    assert (first.text, second.text) == (BOOK, OPEN)
    assert [session.close_code for session in fake.sessions] == [1011, None]
    # The second connection heard the whole second utterance again, from where the
    # first final ended, and its times continue the stream's clock.
    # (plus the part of the first utterance's last 10 ms the fake had not processed)
    assert 0 <= fake.sessions[1].audio_bytes - len(open_tomorrow) < 320
    assert second.start_s == pytest.approx(first.end_s, abs=0.02)
    assert second.words[0].start_s == pytest.approx(first_length_s + 0.06, abs=0.06)
    assert second.end_s == pytest.approx(first_length_s + len(open_tomorrow) / 32000, abs=0.03)


async def test_when_reconnecting_fails_the_stream_is_unavailable(
    fake: DeepgramListenFake, book_table: bytes
) -> None:
    fake.drop_after_s = [0.5]
    stt = stt_for(fake, reconnect_backoff_s=0.01, max_reconnect_attempts=2)
    stream = await stt.open_stream(STTOptions())
    fake.refuse = [503, 503]
    await push(stream, book_table)
    with pytest.raises(ProviderUnavailable, match="2 reconnects failed: HTTP 503"):
        await drain(stream)
    with pytest.raises(ProviderUnavailable):
        await stream.push_audio(silence(0.02))
    await stream.aclose()
    assert len(fake.sessions) == 3


async def test_undecodable_audio_is_a_request_error_without_reconnecting(
    fake: DeepgramListenFake, book_table: bytes
) -> None:
    fake.drop_after_s = [0.5]
    fake.drop_with = (1002, "DATA-0000: The payload cannot be decoded as audio.")
    stream = await stt_for(fake, reconnect_backoff_s=0.01).open_stream(STTOptions())
    await push(stream, book_table)
    with pytest.raises(ProviderRequestError, match="DATA-0000"):
        await drain(stream)
    await stream.aclose()
    assert len(fake.sessions) == 1


async def test_slow_first_result_times_out(fake: DeepgramListenFake, book_table: bytes) -> None:
    fake.first_result_delay_s = 5.0
    stream = await stt_for(fake, first_result_timeout_s=0.2).open_stream(STTOptions())
    try:
        await push(stream, book_table)
        with pytest.raises(ProviderTimeout, match=r"0\.2 s"):
            await drain(stream, timeout_s=3)
    finally:
        await stream.aclose()


async def test_aclose_closes_the_connection_and_ends_transcripts(
    fake: DeepgramListenFake, book_table: bytes
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
