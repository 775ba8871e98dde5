"""Smart Turn v3.2 (ONNX, BSD-2-Clause): the probability that a speaker has finished,
from the last 8 s of their audio.

The model ships inside the ``pipecat-ai==1.14.0`` wheel
(``pipecat/audio/turn/smart_turn/data/smart-turn-v3.2-cpu.onnx``, 8.7 MB), installed
with ``--no-deps`` for that file alone: pipecat is never imported (its package import
needs loguru and more). The file is found with ``importlib.resources`` on a module
object made from pipecat's import spec without running it.

One prediction costs tens of milliseconds (its Whisper front end and encoder), far too
long for the event loop, so ``predict`` queues the audio for one worker thread per
process (a bounded queue: a full one answers ``ProviderRateLimited`` at once, and the
policy decides on the words and the silence). The worker takes every question queued
while it was busy, up to ``max_batch``, computes their features and runs them as one
``InferenceSession.run``; each answer goes back to its caller's loop.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import queue
import threading
from dataclasses import dataclass
from importlib.resources import as_file, files
from typing import Any, Final

import numpy as np

from callwright.providers.errors import ProviderRateLimited, ProviderUnavailable
from callwright.providers.turn.features import log_mel, to_model_rate

try:
    import onnxruntime  # type: ignore[import-untyped]
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        "callwright.providers.turn.smart_turn_v3 needs onnxruntime and the model file: "
        "pip install --no-deps pipecat-ai==1.14.0"
    ) from exc

__all__ = ["PROVIDER", "SmartTurnV3", "load_model", "model_file", "smart_turn_model"]

logger = logging.getLogger(__name__)

PROVIDER: Final = "smart-turn-v3.2"
_PACKAGE: Final = "pipecat"
_MODEL_FILE: Final = "audio/turn/smart_turn/data/smart-turn-v3.2-cpu.onnx"

_session: Any = None
_session_lock = threading.Lock()


def model_file() -> Any:
    """The model file inside the installed pipecat-ai wheel (a Traversable), found
    without importing pipecat: its spec gives a module object that is never run."""
    spec = importlib.util.find_spec(_PACKAGE)
    if spec is None or spec.submodule_search_locations is None:
        raise ProviderUnavailable(
            PROVIDER, "pipecat-ai is not installed (pip install --no-deps pipecat-ai==1.14.0)"
        )
    package = importlib.util.module_from_spec(spec)  # not executed: nothing imported
    model = files(package).joinpath(_MODEL_FILE)
    if not model.is_file():
        raise ProviderUnavailable(PROVIDER, f"the installed pipecat-ai has no {_MODEL_FILE}")
    return model


def load_model() -> Any:
    """The process-wide ``onnxruntime.InferenceSession`` (blocking; thread-safe)."""
    global _session
    with _session_lock:
        if _session is None:
            options = onnxruntime.SessionOptions()
            options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
            options.intra_op_num_threads = 1
            options.inter_op_num_threads = 1
            options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
            try:
                with as_file(model_file()) as path:
                    _session = onnxruntime.InferenceSession(
                        str(path), sess_options=options, providers=["CPUExecutionProvider"]
                    )
            except ProviderUnavailable:
                raise
            except Exception as exc:  # onnxruntime raises its own untyped error classes
                raise ProviderUnavailable(PROVIDER, f"cannot load the ONNX model: {exc}") from exc
        return _session


@dataclass(slots=True)
class _Question:
    pcm16: bytes
    sample_rate: int
    answer: asyncio.Future[float]
    loop: asyncio.AbstractEventLoop


def _answer(question: _Question, probability: float | None, error: Exception | None) -> None:
    """On the asker's loop: the answer, unless the question was withdrawn."""
    future = question.answer
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(float(probability or 0.0))


class SmartTurnV3:
    """The model behind one worker thread (keep one per process: ``smart_turn_model``).

    ``max_queued`` bounds the questions waiting; ``max_batch`` the questions in one
    model run. ``batches`` counts the runs and ``predictions`` the answers (for the
    benchmark)."""

    name = PROVIDER

    def __init__(self, *, max_queued: int = 64, max_batch: int = 8) -> None:
        if max_batch < 1 or max_queued < 1:
            raise ValueError("max_batch and max_queued must be at least 1")
        self.max_batch = max_batch
        self._queue: queue.Queue[_Question | None] = queue.Queue(maxsize=max_queued)
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._closed = False
        self.batches = 0
        self.predictions = 0

    def predict(self, pcm16: bytes, sample_rate: int) -> asyncio.Future[float]:
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[float] = loop.create_future()
        if self._closed:
            answer.set_exception(ProviderUnavailable(PROVIDER, "the model is closed"))
            return answer
        self._start()
        try:
            self._queue.put_nowait(_Question(pcm16, sample_rate, answer, loop))
        except queue.Full:
            answer.set_exception(ProviderRateLimited(PROVIDER, "too many questions queued"))
        return answer

    def predict_now(self, pcm16: bytes, sample_rate: int) -> float:
        """One prediction, computed in the calling thread (tests, benchmarks)."""
        features = log_mel(to_model_rate(pcm16, sample_rate))[np.newaxis]
        return float(self._run(features)[0])

    def close(self) -> None:
        """Stop the worker (questions still queued are answered ``ProviderUnavailable``)."""
        self._closed = True
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None

    def _start(self) -> None:
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name="smart-turn", daemon=True)
                self._thread.start()

    def _work(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                break
            batch = [first]
            stop = False
            while len(batch) < self.max_batch:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                batch.append(more)
            self._run_batch(batch)
            if stop:
                break
        self._drain()

    def _run_batch(self, batch: list[_Question]) -> None:
        # Withdrawn questions (the caller spoke again) are not computed.
        asked = [q for q in batch if not q.answer.done()]
        if not asked:
            return
        try:
            features = np.stack([log_mel(to_model_rate(q.pcm16, q.sample_rate)) for q in asked])
            probabilities = self._run(features)
        except Exception as exc:  # noqa: BLE001 - each asker gets the failure
            logger.warning("the end-of-turn model failed: %s", exc)
            error = (
                exc
                if isinstance(exc, ProviderUnavailable)
                else ProviderUnavailable(PROVIDER, f"the model failed: {exc}")
            )
            for question in asked:
                _call_back(question, None, error)
            return
        self.batches += 1
        self.predictions += len(asked)
        for question, probability in zip(asked, probabilities, strict=True):
            _call_back(question, float(probability), None)

    def _run(self, features: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        outputs = load_model().run(None, {"input_features": features.astype(np.float32)})
        return np.asarray(outputs[0], dtype=np.float64).reshape(len(features), -1)[:, 0]

    def _drain(self) -> None:
        error = ProviderUnavailable(PROVIDER, "the model is closed")
        while True:
            try:
                question = self._queue.get_nowait()
            except queue.Empty:
                return
            if question is not None:
                _call_back(question, None, error)


def _call_back(question: _Question, probability: float | None, error: Exception | None) -> None:
    try:
        question.loop.call_soon_threadsafe(_answer, question, probability, error)
    except RuntimeError:  # the asker's loop is closed: nobody is waiting
        return


_shared: SmartTurnV3 | None = None
_shared_lock = threading.Lock()


def smart_turn_model() -> SmartTurnV3:
    """The process's model (one worker thread for every call). Raises
    ``ProviderUnavailable`` when the model file is not installed."""
    global _shared
    model_file()  # fails now, not at the first pause of a call
    with _shared_lock:
        if _shared is None:
            _shared = SmartTurnV3()
        return _shared
