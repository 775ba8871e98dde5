"""The transcriber hears a phone call at the line's 8 kHz where its vendor takes that
rate (decision 028): the call's provider factory builds it for the rate the call is
heard at (the catalog's ``input_rates``), and a phone call on Deepgram or AssemblyAI
streams the line's audio to the vendor at 8 kHz, 20 ms frames as they came. Browser
calls, and vendors that take only 16 kHz, keep 16 kHz."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from callwright.engine.session_providers import SessionProviders
from callwright.providers.fakes import EnergyVAD, speech
from callwright.providers.protocols import STT
from callwright.providers.stt.assemblyai import AssemblyAISTT
from callwright.providers.stt.deepgram import DeepgramSTT
from callwright.providers.stt.openai_transcribe import OpenAITranscriptionSTT
from callwright.providers.vendors import CATALOG
from callwright.runtime.providers_cloud import CloudProviders
from callwright.runtime.registry import build_providers
from callwright.settings import Settings
from callwright.transports.loopback import LoopbackTransport
from tests.engine.harness import make_call, run_call
from tests.fields.support import StubOffline, document
from tests.support.optional import require
from tests.vendor_fakes import serve
from tests.vendor_fakes.assemblyai_stream import AssemblyAIStreamFake
from tests.vendor_fakes.deepgram_listen import DeepgramListenFake

require("onnxruntime", "Silero VAD needs the offline extra")  # the registry builds it

KEY = "stt-line-rate-key-0123456789"
LINE_RATE = 8_000
SAID = "Do you deliver?"
HANG_GUARD_S = 10.0  # only catches a hang: the fake has seen the close long before


def providers_for(
    cloud: CloudProviders, model: str, transport_rate: int, **server: Any
) -> SessionProviders:
    keys = {"deepgram_api_key": KEY, "assemblyai_api_key": KEY, "openai_api_key": KEY}
    providers, _ = build_providers(
        document(stt_settings={"model": model}),
        StubOffline(),
        cloud=cloud,
        server=Settings(**{**keys, **server}),
        sample_rate=transport_rate,
    )
    return providers


@pytest.mark.parametrize(
    ("model", "adapter", "transport_rate", "expected"),
    [
        ("nova-2", DeepgramSTT, 8_000, 8_000),  # a phone line
        ("nova-2", DeepgramSTT, 16_000, 16_000),  # a browser call
        ("nova-2", DeepgramSTT, 48_000, 16_000),  # heard at 16 kHz, whatever comes in
        ("universal-streaming", AssemblyAISTT, 8_000, 8_000),
        ("universal-streaming", AssemblyAISTT, 16_000, 16_000),
        ("whisper-1", OpenAITranscriptionSTT, 8_000, 16_000),  # takes only 16 kHz
        ("whisper-1", OpenAITranscriptionSTT, 16_000, 16_000),
    ],
)
def test_the_transcriber_is_built_for_the_line_rate_where_its_vendor_takes_it(
    cloud: CloudProviders, model: str, adapter: type, transport_rate: int, expected: int
) -> None:
    providers = providers_for(cloud, model, transport_rate)
    assert isinstance(providers.stt, adapter)
    assert providers.stt.sample_rate == expected
    hearing_rate = LINE_RATE if transport_rate == LINE_RATE else 16_000
    assert providers.vad.sample_rate == hearing_rate
    # The offline whisper behind it stays at 16 kHz (the fallback resamples for it).
    assert [fallback.sample_rate for fallback in providers.stt_fallbacks] == [16_000]


def test_each_transcribers_adapter_is_built_at_each_rate_the_catalog_lists(
    cloud: CloudProviders,
) -> None:
    """The catalog's ``input_rates`` are what the adapters do: each listed rate gives
    an adapter at that rate (one adapter per rate, shared by the calls at it)."""
    for vendor in CATALOG.vendors("stt"):
        if vendor.offline:
            assert vendor.input_rates == (16_000,)  # whisper's own rate
            continue
        model = {"deepgram": "nova-2", "assemblyai": "universal-streaming"}.get(
            vendor.name, "whisper-1"
        )
        for rate in vendor.input_rates:
            assert providers_for(cloud, model, rate).stt.sample_rate == rate


async def phone_call(stt: STT) -> bytes:
    """A phone call (8 kHz line, the VAD at 8 kHz) with ``stt`` as its transcriber: the
    caller speaks and hangs up. Returns what the caller's line carried."""
    call = make_call(
        transport_rate=LINE_RATE,
        vad=EnergyVAD(LINE_RATE, 256),
        wrap_stt=lambda _scripted: stt,
        first_message_mode="assistant-waits-for-user",
        replies=["We do."],
    )
    line = speech(0.6, LINE_RATE) + bytes(2 * LINE_RATE)

    async def caller(transport: LoopbackTransport) -> None:
        await transport.say(line)
        await transport.hang_up_caller()

    await run_call(call, caller)
    return line


async def phone_call_through(
    fake: DeepgramListenFake | AssemblyAIStreamFake,
    cloud: CloudProviders,
    model: str,
    base_url_setting: str,
) -> tuple[Any, bytes]:
    """A phone call transcribed by ``model``'s vendor, served by ``fake`` (its URL in
    the server setting ``base_url_setting``): the fake's one session, once the adapter
    has closed it, and the line's audio."""
    async with serve(fake.app) as url:
        providers = providers_for(cloud, model, LINE_RATE, **{base_url_setting: url})
        line = await phone_call(providers.stt)
        (session,) = fake.sessions
        async with asyncio.timeout(HANG_GUARD_S):
            await session.client_closed.wait()
    return session, line


async def test_a_phone_call_on_deepgram_streams_the_lines_8khz_frames(
    cloud: CloudProviders,
) -> None:
    fake = DeepgramListenFake(api_key=KEY, script=[SAID])
    session, line = await phone_call_through(fake, cloud, "nova-2", "deepgram_base_url")

    assert (session.param("encoding"), session.param("sample_rate")) == ("linear16", "8000")
    assert set(session.frame_bytes) == {320}  # 20 ms at 8 kHz, each as the line sent it
    assert session.audio_bytes == len(line)


async def test_a_phone_call_on_assemblyai_streams_the_line_at_8khz(
    cloud: CloudProviders,
) -> None:
    fake = AssemblyAIStreamFake(api_key=KEY, script=[SAID])
    session, line = await phone_call_through(
        fake, cloud, "universal-streaming", "assemblyai_base_url"
    )

    assert (session.query["encoding"], session.query["sample_rate"]) == ("pcm_s16le", "8000")
    # The adapter's 100 ms chunks (1600 bytes at 8 kHz; a tail flushed before a
    # ForceEndpoint is padded to 50 ms), the whole line within a chunk: 16 kHz audio
    # declared as 8 kHz would be twice as long.
    line_ms = len(line) / 2 / LINE_RATE * 1000
    assert session.chunk_ms.count(100.0) >= len(session.chunk_ms) - 2
    assert sum(session.chunk_ms) == pytest.approx(line_ms, abs=100)
