"""The per-20 ms-frame audio work of a phone call, before and after the polyphase rewrite
and the transcriber at the line's rate (decision 028).

Times, in one process, the previous implementations (kept below as the baseline) and
the current ones from ``callwright``: the 8 → 16 kHz half-band upsampling of 160-sample
frames, 16 → 8 kHz downsampling of 320-sample frames (replies to the phone), parsing a
Twilio ``media`` message and building the outbound one, and the hearing's transcriber
path for one frame of a phone line: before, upsampled to 16 kHz and kept at 16 kHz in
the STT fallback's replay buffer; now, the 8 kHz frame as it came, kept at 8 kHz (a
vendor stream that only counts the bytes stands in for the socket). Each figure is per
frame, from ``--repeat`` timings of ``--number`` calls each.

    .venv/bin/python benchmarks/audio_path.py [--repeat 2000] [--number 20]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import timeit
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
from starlette.websockets import WebSocketState

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from callwright.audio.codec import mulaw_decode, mulaw_encode  # noqa: E402
from callwright.audio.resample import (  # noqa: E402
    _HALFBAND_TAPS,
    Resampler,
    _HalfBand,
    _halfband_taps,
)
from callwright.engine.stt_fallback import FallbackSTT, FallbackSTTStream  # noqa: E402
from callwright.providers.protocols import STTOptions, Transcript  # noqa: E402
from callwright.transports.protocol import (  # noqa: E402
    AudioReceived,
    CallerHungUp,
    DtmfReceived,
    PlaybackMarked,
    TransportEvent,
)
from callwright.transports.twilio.media_stream import StreamStart, TwilioMediaStream, _parse  # noqa: E402

STREAM_SID = "MZ18ad3ab5a668481ce02b83e7395059f0"


# ---------------------------------------------------------------------------------------
# BASELINE: the implementations before this change, copied verbatim (audio/resample.py
# `_HalfBand` and transports/twilio.py `_parse` / `send_audio`'s message building).
# ---------------------------------------------------------------------------------------


class BaselineHalfBand:
    """BASELINE ``_HalfBand``: full convolution of the zero-stuffed signal."""

    __slots__ = ("_delay", "_drop", "_history", "_phase", "_taps", "_up")

    def __init__(self, *, up: bool) -> None:
        self._up = up
        self._taps = _halfband_taps() * (2.0 if up else 1.0)
        self._delay = (_HALFBAND_TAPS - 1) // 2
        self.reset()

    def reset(self) -> None:
        self._history = np.zeros(_HALFBAND_TAPS - 1)
        self._drop = self._delay
        self._phase = 0

    def process(self, samples: npt.NDArray[np.int16], *, last: bool) -> npt.NDArray[np.int16]:
        if self._up:
            high = np.zeros(samples.size * 2)
            high[::2] = samples
        else:
            high = samples.astype(np.float64)
        if last:
            high = np.concatenate((high, np.zeros(self._delay)))
        padded = np.concatenate((self._history, high))
        filtered = np.convolve(padded, self._taps, mode="valid")
        self._history = padded[padded.size - (_HALFBAND_TAPS - 1) :]
        if self._drop:
            dropped = min(self._drop, filtered.size)
            filtered = filtered[dropped:]
            self._drop -= dropped
        if not self._up:
            kept = filtered[self._phase :: 2]
            self._phase = (self._phase + filtered.size) % 2
            filtered = kept
        out = np.clip(np.rint(filtered), -32768, 32767).astype(np.int16)
        if last:
            self.reset()
        return out


def baseline_parse(text: str) -> TransportEvent | None:
    """BASELINE ``transports.twilio.media_stream._parse``."""
    try:
        message = json.loads(text)
        kind = message["event"]
        if kind == "media":
            media = message["media"]
            if media.get("track", "inbound") not in ("inbound", "inbound_track"):
                return None
            return AudioReceived(mulaw_decode(base64.b64decode(media["payload"])))
        if kind == "dtmf":
            return DtmfReceived(str(message["dtmf"]["digit"]))
        if kind == "mark":
            return PlaybackMarked(str(message["mark"]["name"]))
        if kind == "stop":
            return CallerHungUp("customer-ended-call")
    except (ValueError, KeyError, TypeError):
        return None
    return None


def baseline_media_message(stream_sid: str, pcm16: bytes) -> str:
    """BASELINE ``TwilioMediaStream.send_audio``'s text: a dict through json.dumps."""
    payload = base64.b64encode(mulaw_encode(pcm16)).decode()
    message = {"event": "media", "streamSid": stream_sid, "media": {"payload": payload}}
    return json.dumps(message, separators=(",", ":"))


# ---------------------------------------------------------------------------------------


class _Capture:
    """Just enough of a Starlette WebSocket for ``send_audio``: keeps the last text."""

    application_state = WebSocketState.CONNECTED

    def __init__(self) -> None:
        self.text = ""

    async def send_text(self, text: str) -> None:
        self.text = text


class _NoControl:
    """A call control the benchmark never uses: sending audio touches no REST API."""

    async def hang_up(self) -> None:
        raise AssertionError("the audio benchmark never hangs up")

    async def transfer(self, destination: str) -> None:
        raise AssertionError("the audio benchmark never transfers")


def _drive(coroutine: Any) -> None:
    """Run a coroutine that never suspends (``send_audio`` on ``_Capture``), loop-free."""
    try:
        coroutine.send(None)
    except StopIteration:
        return
    raise RuntimeError("send_audio suspended")


class _CountingStream:
    """A transcriber's stream that takes audio and answers nothing: the vendor's
    socket write is left out, the bytes it would carry are counted."""

    def __init__(self) -> None:
        self.bytes_sent = 0
        self.last: bytes = b""

    async def push_audio(self, pcm16: bytes) -> None:
        self.bytes_sent += len(pcm16)
        self.last = pcm16

    async def end_utterance(self) -> None:
        return None

    def discard_utterance(self) -> None:
        return None

    async def end_of_audio(self) -> None:
        return None

    def transcripts(self) -> AsyncIterator[Transcript]:
        raise AssertionError("the audio benchmark reads no transcripts")

    async def aclose(self) -> None:
        return None


class _CountingSTT:
    """A transcriber built for ``sample_rate`` (as Deepgram is, at 8 or 16 kHz)."""

    name = "counting"

    def __init__(self, sample_rate: int) -> None:
        self.sample_rate = sample_rate
        self.stream = _CountingStream()

    async def open_stream(self, options: STTOptions) -> _CountingStream:
        return self.stream


def transcriber_path(stt_rate: int) -> tuple[Callable[[bytes], object], _CountingSTT]:
    """The hearing's STT path for one 8 kHz frame (the VAD at the line's rate, no
    denoising): the resampler when the transcriber takes another rate, then the
    fallback's replay buffer and the transcriber's stream."""
    stt = _CountingSTT(stt_rate)
    opened: list[FallbackSTTStream] = []

    async def open_stream() -> None:
        opened.append(await FallbackSTT([stt]).open_stream(STTOptions()))

    _drive(open_stream())
    (stream,) = opened
    to_stt = Resampler(8000, stt_rate) if stt_rate != 8000 else None

    def step(pcm16: bytes) -> object:
        if to_stt is not None:
            pcm16 = to_stt.process(pcm16)
        _drive(stream.push_audio(pcm16))
        return pcm16

    return step, stt


def speechlike(rate: int, samples: int) -> npt.NDArray[np.int16]:
    t = np.arange(samples) / rate
    rng = np.random.default_rng(7)
    mix = 0.3 * np.sin(2 * np.pi * 440 * t) + 0.2 * np.sin(2 * np.pi * 1234 * t)
    noisy = 32767 * (mix + 0.05 * rng.standard_normal(samples))
    return np.clip(np.rint(noisy), -32768, 32767).astype("<i2")


def media_message(mulaw: bytes, sequence: int) -> str:
    """An inbound frame as Twilio sends it (field order and all)."""
    return json.dumps(
        {
            "event": "media",
            "sequenceNumber": str(sequence),
            "media": {
                "track": "inbound",
                "chunk": str(sequence - 1),
                "timestamp": str(20 * sequence),
                "payload": base64.b64encode(mulaw).decode(),
            },
            "streamSid": STREAM_SID,
        },
        separators=(",", ":"),
    )


Frame = TypeVar("Frame")


def frame_cycler(frames: list[Frame], process: Callable[[Frame], object]) -> Callable[[], object]:
    """A callable feeding the next frame of a looped signal each call, as a call does."""
    index = 0

    def step() -> object:
        nonlocal index
        index = (index + 1) % len(frames)
        return process(frames[index])

    return step


def cases() -> dict[str, tuple[Callable[[], object], Callable[[], object]]]:
    """Each measured operation: (baseline, current), both per 20 ms frame."""
    low = speechlike(8000, 8000)
    high = speechlike(16000, 16000)
    low_frames = [low[i : i + 160] for i in range(0, low.size, 160)]
    high_frames = [high[i : i + 320] for i in range(0, high.size, 320)]
    old_up, new_up = BaselineHalfBand(up=True), _HalfBand(up=True)
    old_down, new_down = BaselineHalfBand(up=False), _HalfBand(up=False)

    mulaw_frames = [mulaw_encode(frame.tobytes()) for frame in low_frames]
    messages = [media_message(mulaw, n + 2) for n, mulaw in enumerate(mulaw_frames)]
    pcm_frames = [frame.tobytes() for frame in low_frames]
    capture = _Capture()
    start = StreamStart(STREAM_SID, "CA1", "AC1")
    stream = TwilioMediaStream(capture, start, _NoControl())  # type: ignore[arg-type]  # not a WebSocket

    def send(pcm16: bytes) -> str:
        _drive(stream.send_audio(pcm16))
        return capture.text

    to_16k, _ = transcriber_path(16000)
    at_line_rate, _ = transcriber_path(8000)

    return {
        "hearing → transcriber, 160 samples": (
            frame_cycler(pcm_frames, to_16k),
            frame_cycler(pcm_frames, at_line_rate),
        ),
        "resample 8→16 kHz, 160 samples": (
            frame_cycler(low_frames, lambda f: old_up.process(f, last=False).tobytes()),
            frame_cycler(low_frames, lambda f: new_up.process(f, last=False).tobytes()),
        ),
        "resample 16→8 kHz, 320 samples": (
            frame_cycler(high_frames, lambda f: old_down.process(f, last=False).tobytes()),
            frame_cycler(high_frames, lambda f: new_down.process(f, last=False).tobytes()),
        ),
        "Twilio inbound media parse": (
            frame_cycler(messages, baseline_parse),
            frame_cycler(messages, _parse),
        ),
        "Twilio outbound media message": (
            frame_cycler(pcm_frames, lambda p: baseline_media_message(STREAM_SID, p)),
            frame_cycler(pcm_frames, send),
        ),
    }


def check_equivalence() -> None:
    """The current code gives what the baseline gave, so the timings compare like for like."""
    low = speechlike(8000, 8000)
    high = speechlike(16000, 16000)
    for up, signal, size in ((True, low, 160), (False, high, 320)):
        old, new = BaselineHalfBand(up=up), _HalfBand(up=up)
        for start in range(0, signal.size, size):
            last = start + size >= signal.size
            a = old.process(signal[start : start + size], last=last).astype(np.int64)
            b = new.process(signal[start : start + size], last=last).astype(np.int64)
            if a.size != b.size or (a.size and np.max(np.abs(a - b)) > 1):
                raise AssertionError(f"half-band up={up} differs at sample {start}")
    # The transcriber at the line's rate gets the frame itself; at 16 kHz, twice the bytes.
    frame = low[:160].tobytes()
    for rate, expected in ((8000, 320), (16000, 640)):
        step, counted = transcriber_path(rate)
        for _ in range(3):
            step(frame)
        if rate == 8000 and counted.stream.last is not frame:
            raise AssertionError("the 8 kHz transcriber path copied the frame")
        if len(counted.stream.last) != expected:
            raise AssertionError(f"the {rate} Hz transcriber got {len(counted.stream.last)} B")
    message = media_message(mulaw_encode(low[:160].tobytes()), 2)
    parsed, expected = _parse(message), baseline_parse(message)
    # The same audio (the new event also carries the μ-law it was decoded from).
    if not (isinstance(parsed, AudioReceived) and isinstance(expected, AudioReceived)):
        raise AssertionError("inbound parse differs")
    if parsed.pcm16 != expected.pcm16:
        raise AssertionError("inbound parse differs")
    capture = _Capture()
    stream = TwilioMediaStream(capture, StreamStart(STREAM_SID, "CA1", "AC1"), _NoControl())  # type: ignore[arg-type]
    _drive(stream.send_audio(low[:160].tobytes()))
    if capture.text != baseline_media_message(STREAM_SID, low[:160].tobytes()):
        raise AssertionError("outbound message differs")


def measure(
    baseline: Callable[[], object], current: Callable[[], object], repeat: int, number: int
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """µs per frame of each, timed alternately so that both see the same machine load."""
    for _ in range(200):  # warm caches and the filters' state
        baseline()
        current()
    timings = np.empty((repeat, 2))
    for row in timings:
        row[0] = timeit.timeit(baseline, number=number)
        row[1] = timeit.timeit(current, number=number)
    timings *= 1e6 / number
    return timings[:, 0], timings[:, 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=2000, help="timings per figure")
    parser.add_argument("--number", type=int, default=20, help="frames per timing")
    args = parser.parse_args()

    check_equivalence()
    load = os.getloadavg()[0]
    print(f"µs per 20 ms frame ({args.repeat} × {args.number} frames), load average {load:.2f}")
    print(f"{'operation':34s} {'version':9s} {'p50':>7s} {'p95':>7s} {'p99':>7s}")
    for name, (baseline, current) in cases().items():
        old, new = measure(baseline, current, args.repeat, args.number)
        for version, spent in (("baseline", old), ("current", new)):
            p50, p95, p99 = np.percentile(spent, [50, 95, 99])
            print(f"{name:34s} {version:9s} {p50:7.2f} {p95:7.2f} {p99:7.2f}")
        ratio = np.median(old) / np.median(new)
        print(f"{'':34s} {'p50 ratio':9s} {ratio:6.2f}×")


if __name__ == "__main__":
    main()
