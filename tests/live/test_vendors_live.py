"""The cloud adapters against the real vendors, for a release check by hand:

    CALLWRIGHT_LIVE=1 OPENAI_API_KEY=... .venv/bin/pytest tests/live

Marked ``live``: skipped unless ``CALLWRIGHT_LIVE=1`` (the suite and CI never reach
the internet; every adapter's protocol is tested against a local fake in
``tests/providers``). A vendor whose key is not in the environment is skipped too.
Each case is one catalog entry, made exactly as a call makes it (``Vendor.create``
with the server's own values), so a vendor added to the catalog is checked here too.
"""

from __future__ import annotations

import asyncio
import wave
from pathlib import Path

import pytest

from callwright.engine.realtime_voice import say_exactly
from callwright.providers.catalog import Connection, Vendor
from callwright.providers.protocols import (
    ChatMessage,
    LLMRequest,
    STTOptions,
    TextDelta,
    TTSOptions,
)
from callwright.providers.realtime.protocol import AudioOut, RealtimeOptions, Respond, ResponseDone
from callwright.providers.vendors import CATALOG
from callwright.settings import Settings

pytestmark = pytest.mark.live

FIXTURE = Path(__file__).parent.parent / "fixtures" / "audio" / "book_table.wav"


def _cloud(kind: str) -> list[Vendor]:
    return [vendor for vendor in CATALOG.vendors(kind) if not vendor.offline]  # type: ignore[arg-type]


def _connection(vendor: Vendor, sample_rate: int) -> Connection:
    """The server's own values for ``vendor`` (skips when its key is not set)."""
    assert vendor.account is not None
    settings = Settings()
    values = {
        name: value
        for name, where in vendor.account.server_values.items()
        if (value := where.read(settings))
    }
    missing = [name for name in vendor.account.needs(values) if name not in values]
    if missing:
        variables = vendor.account.server_values[missing[0]].variables
        pytest.skip(f"{vendor.name}: set {' or '.join(variables)}")
    identity = {name: values[name] for name, _ in vendor.account.identity}
    return Connection(
        vendor.name,
        values.get("api_key", ""),
        values.get("base_url") or vendor.account.default_base_url,
        values.get("region"),
        identity,
        None,
        sample_rate,
    )


@pytest.mark.parametrize("vendor", _cloud("llm"), ids=lambda vendor: vendor.name)
async def test_llm_streams_an_answer(vendor: Vendor) -> None:
    llm = vendor.create(_connection(vendor, 0))
    request = LLMRequest(
        messages=(ChatMessage("user", "Say the single word: hello."),), max_tokens=16
    )
    text = "".join(
        [event.text async for event in llm.stream(request) if isinstance(event, TextDelta)]
    )
    assert "hello" in text.lower()


@pytest.mark.parametrize("vendor", _cloud("tts"), ids=lambda vendor: vendor.name)
async def test_tts_speaks_a_sentence(vendor: Vendor) -> None:
    tts = vendor.create(_connection(vendor, 16_000))
    options = TTSOptions(vendor=CATALOG.vendor_options("tts", vendor.name, {}))
    audio = b"".join([chunk async for chunk in tts.synthesize("Hello from callwright.", options)])
    # At least half a second of PCM16 at the adapter's rate.
    assert len(audio) >= tts.sample_rate


@pytest.mark.parametrize("vendor", _cloud("stt"), ids=lambda vendor: vendor.name)
async def test_stt_transcribes_a_recording(vendor: Vendor) -> None:
    stt = vendor.create(_connection(vendor, 16_000))
    with wave.open(str(FIXTURE)) as recording:
        pcm16 = recording.readframes(recording.getnframes())
    stream = await stt.open_stream(STTOptions())
    try:
        for start in range(0, len(pcm16), 640):
            await stream.push_audio(pcm16[start : start + 640])
        await stream.end_of_audio()
        words = " ".join([t.text async for t in stream.transcripts() if t.is_final]).lower()
    finally:
        await stream.aclose()
    assert "table" in words


@pytest.mark.parametrize("vendor", _cloud("realtime"), ids=lambda vendor: vendor.name)
async def test_realtime_model_says_a_sentence(vendor: Vendor) -> None:
    """A phone call's set-up (μ-law 8 kHz), fixed text said, in the vendor's default
    voice; at least half a second of audio before the answer ends."""
    model = vendor.create(_connection(vendor, 8_000))
    connection = await model.connect(RealtimeOptions(audio="pcmu", voice=None))
    audio = b""
    try:
        await connection.send(Respond(say_exactly("Hello from callwright.")))
        async with asyncio.timeout(30):  # only catches a hang
            async for event in connection.events():
                if isinstance(event, AudioOut):
                    audio += event.audio
                elif isinstance(event, ResponseDone):
                    break
    finally:
        await connection.aclose()
    assert len(audio) >= 4_000  # μ-law: one byte a sample
