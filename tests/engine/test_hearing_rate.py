"""The transcriber hears the call at the rate it was built for (decision 028): a phone
line's 8 kHz frames go to a transcriber built for 8 kHz as they came, with no
resampler on the way; one that takes only 16 kHz gets the line upsampled."""

from __future__ import annotations

import pytest

from callwright.providers.fakes import EnergyVAD, speech
from callwright.transports.loopback import LoopbackTransport
from tests.engine.harness import Call, KeepingSTT, make_call, run_call

LINE_RATE = 8_000
FRAME_BYTES = 320  # 20 ms at 8 kHz, as Twilio delivers it


def phone_call(stt_rate: int) -> tuple[Call, KeepingSTT]:
    call = make_call(
        transport_rate=LINE_RATE,
        stt_rate=stt_rate,
        vad=EnergyVAD(LINE_RATE, 256),  # Silero's 8 kHz frame, as the registry builds it
        wrap_stt=KeepingSTT,
        first_message_mode="assistant-waits-for-user",
        utterances=("Do you deliver?",),
        replies=["We do."],
    )
    assert call.providers is not None
    stt = call.providers.stt
    assert isinstance(stt, KeepingSTT)
    return call, stt


def line_frames(seconds_of_speech: float, seconds_of_silence: float) -> list[bytes]:
    audio = speech(seconds_of_speech, LINE_RATE) + bytes(int(seconds_of_silence * LINE_RATE) * 2)
    return [audio[i : i + FRAME_BYTES] for i in range(0, len(audio), FRAME_BYTES)]


def caller_saying(frames: list[bytes]):  # type: ignore[no-untyped-def]
    async def caller(transport: LoopbackTransport) -> None:
        for frame in frames:
            # One frame per say(): the transport hands the session this very object
            # (a whole-bytes slice is the bytes itself).
            await transport.say(frame)
        await transport.hang_up_caller()

    return caller


async def test_a_phone_line_reaches_an_8khz_transcriber_frame_for_frame_uncopied() -> None:
    call, stt = phone_call(LINE_RATE)
    frames = line_frames(0.6, 3.0)
    await run_call(call, caller_saying(frames))

    assert call.transcript == [("user", "Do you deliver?", False), ("assistant", "We do.", False)]
    assert len(stt.pushed) == len(frames)
    assert {len(chunk) for chunk in stt.pushed} == {FRAME_BYTES}
    # Not resampled, not even copied: the line's own frames.
    assert all(pushed is frame for pushed, frame in zip(stt.pushed, frames, strict=True))
    assert call.stt.speech_heard_s == pytest.approx(0.6, abs=0.01)


async def test_a_transcriber_taking_only_16khz_hears_the_line_upsampled() -> None:
    call, stt = phone_call(16_000)
    frames = line_frames(0.6, 3.0)
    await run_call(call, caller_saying(frames))

    assert call.transcript == [("user", "Do you deliver?", False), ("assistant", "We do.", False)]
    heard = b"".join(stt.pushed)
    # Twice the samples, less the half-band filter's 3 ms delay still inside it.
    assert len(heard) == pytest.approx(2 * len(b"".join(frames)), abs=2 * 2 * 48)
    assert {len(chunk) for chunk in stt.pushed[1:]} == {2 * FRAME_BYTES}
    # A 20 ms chunk straddling the filter-delayed edge of the speech counts too.
    assert call.stt.speech_heard_s == pytest.approx(0.6, abs=0.03)
