"""The Smart Turn v3 model's input: Whisper log-mel features of the last 8 s of audio.

Smart Turn v3 is a Whisper-encoder classifier: it takes the log-mel spectrogram that
``transformers.WhisperFeatureExtractor(chunk_length=8)`` computes (80 mel bands,
10 ms hop, 800 frames) of 16 kHz audio cut to its last 8 s, or zero-padded in front
to 8 s, and normalised to zero mean and unit variance first. faster-whisper ships the
same front end in numpy (``faster_whisper.feature_extractor.FeatureExtractor``: the
Slaney mel filters, a periodic Hann window, the trailing frame dropped): it is used
here, so nothing of pipecat is imported. Blocking numpy work: run it off the loop.
"""

from __future__ import annotations

import threading
from typing import Any, Final

import numpy as np
import numpy.typing as npt

__all__ = ["MODEL_RATE", "WINDOW_SAMPLES", "log_mel", "to_model_rate"]

MODEL_RATE: Final = 16_000
WINDOW_SAMPLES: Final = 8 * MODEL_RATE
_NORM_EPS: Final = 1e-7

_extractor: Any = None
_extractor_lock = threading.Lock()


def _feature_extractor() -> Any:
    global _extractor
    with _extractor_lock:
        if _extractor is None:
            # Imported here, in the worker thread: faster_whisper's package import
            # brings CTranslate2 (~0.3 s).
            from faster_whisper.feature_extractor import (  # type: ignore[import-untyped]
                FeatureExtractor,
            )

            _extractor = FeatureExtractor(
                feature_size=80, sampling_rate=MODEL_RATE, hop_length=160, chunk_length=8
            )
        return _extractor


def to_model_rate(pcm16: bytes, sample_rate: int) -> npt.NDArray[np.float32]:
    """PCM16 mono at ``sample_rate`` as float samples at 16 kHz (a phone line's 8 kHz
    is interpolated: the model hears the same band the caller's line carried)."""
    audio = np.frombuffer(pcm16, dtype="<i2").astype(np.float32) / 32768.0
    if sample_rate == MODEL_RATE or audio.size == 0:
        return audio
    duration = audio.size / sample_rate
    count = round(duration * MODEL_RATE)
    source = np.arange(audio.size, dtype=np.float64) / sample_rate
    target = np.arange(count, dtype=np.float64) / MODEL_RATE
    resampled: npt.NDArray[np.float32] = np.interp(target, source, audio).astype(np.float32)
    return resampled


def log_mel(audio: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """The model's ``input_features`` for one stretch of 16 kHz audio: ``(80, 800)``."""
    if audio.size >= WINDOW_SAMPLES:
        window = audio[-WINDOW_SAMPLES:]
    else:
        window = np.concatenate((np.zeros(WINDOW_SAMPLES - audio.size, np.float32), audio))
    window = (window - window.mean()) / np.sqrt(window.var() + _NORM_EPS)
    features: npt.NDArray[np.float32] = np.asarray(
        _feature_extractor()(window.astype(np.float32), padding=0), dtype=np.float32
    )
    return features
