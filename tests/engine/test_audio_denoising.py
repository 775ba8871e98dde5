"""stt_settings.audio_denoising: with it on, the transcriber hears the caller's audio
with stationary noise removed; with it off, exactly what the caller sent. Turn-taking
(the VAD) hears the raw audio either way."""

from __future__ import annotations

import dataclasses

import numpy as np
import numpy.typing as npt

from callwright.audio.denoise import NoiseSuppressor
from callwright.domain.assistants.schemas import AssistantIn
from callwright.engine.config import CallConfig
from callwright.engine.events import SpeechStarted, SpeechStopped
from callwright.providers.fakes import EnergyVAD, speech
from callwright.transports.loopback import LoopbackTransport
from tests.engine.harness import Call, KeepingSTT, make_call, run_call

RATE = 16_000
NOISE_S, SPEECH_S, TAIL_S = 1.5, 1.0, 3.0


@dataclasses.dataclass
class RecordingVAD(EnergyVAD):
    """The fake VAD, keeping every frame it was asked about."""

    frames: list[bytes] = dataclasses.field(default_factory=list)

    def speech_probability(self, pcm16_frame: bytes) -> float:
        self.frames.append(pcm16_frame)
        return super().speech_probability(pcm16_frame)


_SPEECH_EDGES = (SpeechStarted, SpeechStopped)


def caller_audio() -> bytes:
    """A steady hiss (~−45 dBFS, below the VAD's speech level) throughout, and one
    second of the scripted caller's speech over it."""
    total = int((NOISE_S + SPEECH_S + TAIL_S) * RATE)
    noise = 180.0 * np.random.default_rng(11).standard_normal(total)
    voice = np.zeros(total)
    start = int(NOISE_S * RATE)
    voice[start : start + int(SPEECH_S * RATE)] = np.frombuffer(speech(SPEECH_S), dtype="<i2")
    return np.clip(np.rint(voice + noise), -32768, 32767).astype("<i2").tobytes()


def recording_call(
    *, audio_denoising: bool, vad: RecordingVAD | None = None
) -> tuple[Call, KeepingSTT]:
    call = make_call(
        vad=vad,
        first_message_mode="assistant-waits-for-user",
        stt_settings={"audio_denoising": audio_denoising},
        utterances=("Do you deliver?",),
        replies=["We do."],
        wrap_stt=KeepingSTT,
    )
    assert call.providers is not None
    stt = call.providers.stt
    assert isinstance(stt, KeepingSTT)
    return call, stt


async def speak_over_noise(transport: LoopbackTransport) -> None:
    await transport.say(caller_audio())
    await transport.hang_up_caller()


def samples(pcm16: bytes | bytearray) -> npt.NDArray[np.float64]:
    return np.frombuffer(bytes(pcm16), dtype="<i2").astype(np.float64)


def power_db(signal: npt.NDArray[np.float64], start_s: float, end_s: float) -> float:
    stretch = signal[int(start_s * RATE) : int(end_s * RATE)]
    return float(10 * np.log10(np.mean(stretch**2)))


def test_audio_denoising_is_a_typed_flag_of_the_call_config() -> None:
    document = AssistantIn(name="denoise", stt_settings={"audio_denoising": True})
    assert CallConfig.from_settings(document.model_dump(mode="json")).audio_denoising is True
    default = AssistantIn(name="default").model_dump(mode="json")
    assert CallConfig.from_settings(default).audio_denoising is False  # seed 000


async def test_audio_denoising_true_feeds_the_transcriber_denoised_audio() -> None:
    call, stt = recording_call(audio_denoising=True)
    await run_call(call, speak_over_noise)

    raw = caller_audio()
    suppressor = NoiseSuppressor(RATE)
    frame = RATE // 50 * 2  # the loopback caller sends 20 ms frames
    expected = b"".join(suppressor.process(raw[i : i + frame]) for i in range(0, len(raw), frame))
    assert b"".join(stt.pushed) == expected

    # The same stretches of heard and sent audio: the suppressor delays by one hop.
    heard = samples(b"".join(stt.pushed))[suppressor.delay_samples :]
    sent = samples(raw)
    noise_only = (NOISE_S + SPEECH_S + 0.5, NOISE_S + SPEECH_S + TAIL_S - 0.1)
    assert power_db(sent, *noise_only) - power_db(heard, *noise_only) >= 15.0
    voiced = (NOISE_S + 0.1, NOISE_S + SPEECH_S - 0.1)
    assert abs(power_db(sent, *voiced) - power_db(heard, *voiced)) <= 1.0
    # And the caller was still understood.
    assert call.transcript[:2] == [
        ("user", "Do you deliver?", False),
        ("assistant", "We do.", False),
    ]


async def test_audio_denoising_false_feeds_the_transcriber_the_raw_audio() -> None:
    call, stt = recording_call(audio_denoising=False)
    await run_call(call, speak_over_noise)
    assert b"".join(stt.pushed) == caller_audio()
    assert call.transcript[0] == ("user", "Do you deliver?", False)


async def test_audio_denoising_leaves_turn_taking_on_the_raw_audio() -> None:
    vad = RecordingVAD()
    call, _ = recording_call(audio_denoising=True, vad=vad)
    await run_call(call, speak_over_noise)
    raw = caller_audio()
    assert b"".join(vad.frames) == raw[: len(raw) - len(raw) % (2 * vad.frame_samples)]
    assert [type(event) for event in call.events if isinstance(event, _SPEECH_EDGES)] == [
        SpeechStarted,
        SpeechStopped,
    ]
