"""One Deepgram live stream: the connection's life (KeepAlive, Finalize, CloseStream,
deadlines), reconnecting with replay of the audio no final covers yet, and Deepgram's
messages (``Results``, ``SpeechStarted``, ``UtteranceEnd``, ``Metadata``) turned into
``Transcript``s. ``DeepgramSTT`` (``deepgram``) opens it."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Final, Protocol

import websockets
from websockets.asyncio.client import ClientConnection

from callwright.providers.common import StreamQueue
from callwright.providers.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderRequestError,
    ProviderTimeout,
    ProviderUnavailable,
)
from callwright.providers.protocols import Transcript, Word

__all__ = ["PROVIDER", "Connector", "DeepgramStream", "StreamTuning"]

logger = logging.getLogger(__name__)

PROVIDER: Final = "deepgram"
_PROVIDER: Final = PROVIDER
_QUEUE_SIZE: Final = 64
_REPLAY_CHUNK: Final = 32_000  # bytes per frame when replaying after a reconnect
_KEEPALIVE: Final = json.dumps({"type": "KeepAlive"})
_FINALIZE: Final = json.dumps({"type": "Finalize"})
_CLOSE_STREAM: Final = json.dumps({"type": "CloseStream"})


Connector = Callable[[], Awaitable[ClientConnection]]
"""Opens another connection to the stream's URL (with its key), for a reconnect."""


class StreamTuning(Protocol):
    """The stream's rate and timings (``DeepgramSTT`` holds them)."""

    @property
    def sample_rate(self) -> int: ...
    @property
    def keepalive_interval_s(self) -> float: ...
    @property
    def first_result_timeout_s(self) -> float: ...
    @property
    def max_reconnect_attempts(self) -> int: ...
    @property
    def reconnect_backoff_s(self) -> float: ...
    @property
    def reconnect_buffer_s(self) -> float: ...


class DeepgramStream:
    """One call's Deepgram stream. ``request_id``, ``speech_started_s`` and
    ``utterance_end_s`` report Deepgram's ``Metadata``, ``SpeechStarted`` and
    ``UtteranceEnd`` (stream times in seconds) for logs and diagnostics."""

    def __init__(self, stt: StreamTuning, connect: Connector, connection: ClientConnection) -> None:
        self._stt, self._connect = stt, connect
        self._loop = asyncio.get_running_loop()
        self._transcripts: StreamQueue[Transcript] = StreamQueue(_QUEUE_SIZE)
        self._send_lock = asyncio.Lock()
        self._connection: ClientConnection | None = connection  # None while reconnecting
        self._bytes_per_s = 2 * stt.sample_rate
        self._max_pending = 2 * int(stt.reconnect_buffer_s * stt.sample_rate)
        self._pending = bytearray()  # audio sent or to send that no final covers yet
        self._pending_start_s = 0.0  # stream time of _pending[0]
        self._offset_s = 0.0  # stream time of the current connection's time 0
        self._last_final_end_s = 0.0  # keeps times monotonic across reconnects
        self._last_sent = self._loop.time()
        self._answered = False  # the current connection has sent a message
        self._waiting_since: float | None = None  # for an answer to audio or CloseStream
        self._deadline: asyncio.Timeout | None = None
        self._finalize_at_s: float | None = None  # stream time of an unanswered Finalize
        self._ending = False
        self._closed = False
        self._error: ProviderError | None = None
        self.request_id: str | None = None
        self.speech_started_s: float | None = None
        self.utterance_end_s: float | None = None
        self._runner = self._loop.create_task(self._run(connection))

    async def push_audio(self, pcm16: bytes) -> None:
        """Send PCM16 mono audio at the STT's sample rate."""
        self._check_open("push_audio")
        if len(pcm16) % 2:
            raise ValueError("PCM16 audio must be a whole number of 2-byte samples")
        if not pcm16:
            return  # Deepgram takes an empty binary frame as the end of the stream
        async with self._send_lock:
            self._pending += pcm16
            if (overflow := len(self._pending) - self._max_pending) > 0:
                del self._pending[:overflow]
                self._pending_start_s += overflow / self._bytes_per_s
            if await self._send(pcm16) and not self._answered and self._waiting_since is None:
                self._waiting_since = self._loop.time()
                self._update_deadline()

    async def end_utterance(self) -> None:
        """Send ``Finalize``: Deepgram answers with the final transcript of what it has."""
        self._check_open("end_utterance")
        async with self._send_lock:
            # Until a final covers it, a Finalize may be lost with a dropped connection
            # (sent is not received): a reconnect sends it again after the replay.
            self._finalize_at_s = self._pending_start_s + len(self._pending) / self._bytes_per_s
            await self._send(_FINALIZE)

    def discard_utterance(self) -> None:
        """Nothing to drop: Deepgram transcribes as audio arrives, and the audio kept
        for a replay after a reconnect is trimmed by its finals."""

    async def end_of_audio(self) -> None:
        """Send ``CloseStream``: the last finals follow, then ``transcripts()`` ends."""
        if self._error is not None:
            raise self._error
        if self._ending or self._closed:
            return
        self._ending = True
        async with self._send_lock:
            await self._send(_CLOSE_STREAM)  # if disconnected, the reconnect sends it
            self._waiting_since = self._loop.time()
            self._update_deadline()

    def transcripts(self) -> AsyncIterator[Transcript]:
        return self._transcripts

    async def aclose(self) -> None:
        """Close the connection and end ``transcripts()``. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._runner.cancel()
        await asyncio.wait({self._runner})
        if (connection := self._connection) is not None:  # the runner never got to it
            self._connection = None
            await connection.close()
        self._transcripts.discard()

    # -- the connection -----------------------------------------------------------------

    def _check_open(self, what: str) -> None:
        if self._error is not None:
            raise self._error
        if self._ending or self._closed:
            raise RuntimeError(f"{what} on a stream that has ended")

    async def _send(self, message: bytes | str) -> bool:
        """Send on the live connection (the caller holds the lock); False if there is
        none: the reader notices a drop and reconnects, replaying ``_pending``."""
        if self._connection is None:
            return False
        try:
            await self._connection.send(message)
        except websockets.ConnectionClosed:
            return False
        self._last_sent = self._loop.time()
        return True

    async def _run(self, connection: ClientConnection) -> None:
        try:
            while True:
                try:
                    if await self._serve(connection):
                        return
                except ProviderError as exc:
                    self._fail(exc)  # before the close, which a stalled server can slow
                    return
                finally:
                    if self._connection is connection:
                        self._connection = None
                    await connection.close()
                connection = await self._reconnect()
        except ProviderError as exc:
            self._fail(exc)
        finally:
            self._transcripts.finish()

    def _fail(self, error: ProviderError) -> None:
        self._error = error
        self._transcripts.finish(error)

    async def _serve(self, connection: ClientConnection) -> bool:
        """Read until the connection closes: True if it ended as asked (``CloseStream``),
        False if it dropped."""
        keepalive = self._loop.create_task(self._keep_alive(connection))
        try:
            async with asyncio.timeout(None) as self._deadline:
                self._update_deadline()
                async for message in connection:
                    self._answered = True
                    self._waiting_since = self._loop.time() if self._ending else None
                    self._update_deadline()
                    if isinstance(message, str):
                        await self._on_message(message)
        except TimeoutError as exc:
            timeout_s = self._stt.first_result_timeout_s
            raise ProviderTimeout(_PROVIDER, f"no answer within {timeout_s:g} s") from exc
        except websockets.ConnectionClosedError:
            pass
        finally:
            self._deadline = None
            keepalive.cancel()
            await asyncio.wait({keepalive})
        if self._ending:
            return True
        if connection.close_code == 1002:  # DATA-0000: undecodable audio; retrying cannot help
            raise ProviderRequestError(_PROVIDER, f"stream refused: {connection.close_reason}")
        logger.warning(
            "deepgram: connection dropped (%s %s); reconnecting",
            connection.close_code,
            connection.close_reason,
        )
        return False

    def _update_deadline(self) -> None:
        deadline = self._deadline
        if deadline is None or deadline.expired():
            return
        waiting = self._waiting_since
        deadline.reschedule(None if waiting is None else waiting + self._stt.first_result_timeout_s)

    async def _keep_alive(self, connection: ClientConnection) -> None:
        interval_s = self._stt.keepalive_interval_s
        while True:
            idle_s = self._loop.time() - self._last_sent
            if idle_s < interval_s:
                await asyncio.sleep(interval_s - idle_s)
                continue
            async with self._send_lock:
                if self._ending or self._connection is not connection:
                    return  # after CloseStream, Deepgram is closing the stream anyway
                if not await self._send(_KEEPALIVE):
                    return

    async def _reconnect(self) -> ClientConnection:
        stt, failure = self._stt, ""
        for attempt in range(stt.max_reconnect_attempts):
            await asyncio.sleep(stt.reconnect_backoff_s * 2**attempt)
            try:
                connection = await self._connect()
            except (ProviderAuthError, ProviderRequestError):
                raise
            except ProviderError as exc:
                failure = f": {exc.message}"
                continue
            try:
                if await self._resume(connection):
                    return connection
            finally:
                if self._connection is not connection:  # else it is aclose's to close
                    await connection.close()
        raise ProviderUnavailable(
            _PROVIDER,
            f"the connection dropped and {stt.max_reconnect_attempts} reconnects failed{failure}",
        )

    async def _resume(self, connection: ClientConnection) -> bool:
        """Make ``connection`` the live one: replay the audio no final covers, then
        repeat the Finalize or CloseStream it may not have heard. False if it drops."""
        async with self._send_lock:
            self._connection, self._offset_s = connection, self._pending_start_s
            self._answered, self._waiting_since = False, None
            replay, sent = bytes(self._pending), True
            for start in range(0, len(replay), _REPLAY_CHUNK):
                if not (sent := await self._send(replay[start : start + _REPLAY_CHUNK])):
                    break
            if sent and self._finalize_at_s is not None:
                sent = await self._send(_FINALIZE)
            if sent and self._ending:
                sent = await self._send(_CLOSE_STREAM)
            if not sent:
                self._connection = None
            elif replay or self._ending:
                self._waiting_since = self._loop.time()
            return sent

    # -- Deepgram's messages --------------------------------------------------------------

    async def _on_message(self, text: str) -> None:
        try:
            message = json.loads(text)
            kind = message.get("type")
            if kind == "Results":
                await self._on_results(message)
            elif kind == "SpeechStarted":
                self.speech_started_s = self._offset_s + float(message["timestamp"])
            elif kind == "UtteranceEnd":
                self.utterance_end_s = self._offset_s + float(message["last_word_end"])
            elif kind == "Metadata":
                self.request_id = message.get("request_id")
        except (AttributeError, KeyError, IndexError, TypeError, ValueError) as exc:
            raise ProviderUnavailable(_PROVIDER, f"malformed message {text[:200]!r}") from exc

    async def _on_results(self, message: dict[str, Any]) -> None:
        offset, floor = self._offset_s, self._last_final_end_s
        start_s = offset + float(message.get("start", 0.0))
        end_s = start_s + float(message.get("duration", 0.0))
        is_final = bool(message.get("is_final"))
        if is_final:
            self._trim_pending(end_s)
            finalize_at_s = self._finalize_at_s
            if message.get("from_finalize") or (finalize_at_s and end_s >= finalize_at_s - 0.05):
                self._finalize_at_s = None
        best = (message["channel"]["alternatives"] or [{}])[0]
        text = str(best.get("transcript") or "").strip()
        if not text:
            return
        words = tuple(
            Word(
                text=str(word.get("punctuated_word") or word["word"]),
                start_s=max(floor, offset + float(word["start"])),
                end_s=max(floor, offset + float(word["end"])),
                confidence=float(word.get("confidence", 1.0)),
            )
            for word in best.get("words") or ()
        )
        transcript = Transcript(
            text=text,
            is_final=is_final,
            start_s=max(floor, start_s),
            end_s=max(floor, end_s),
            words=words,
            confidence=float(best.get("confidence", 1.0)),
        )
        if is_final:
            self._last_final_end_s = transcript.end_s
            await self._transcripts.put(transcript)
        else:
            self._transcripts.offer(transcript)  # full: the consumer is behind; skip it

    def _trim_pending(self, final_end_s: float) -> None:
        """Forget the audio a final now covers: it need not be replayed."""
        samples = int((final_end_s - self._pending_start_s) * self._stt.sample_rate)
        drop = max(0, min(2 * samples, len(self._pending)))
        del self._pending[:drop]
        self._pending_start_s += drop / self._bytes_per_s
