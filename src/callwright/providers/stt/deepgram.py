"""Deepgram live transcription over WebSocket (``wss://api.deepgram.com/v1/listen``).

As Deepgram's "Live Audio" reference documents it: ``Authorization: Token <key>`` and
every setting as a query parameter on the handshake; audio as binary frames of raw
PCM16 (``encoding=linear16``); JSON text frames ``KeepAlive`` (sent after
``keepalive_interval_s`` without sending: Deepgram drops a stream silent for 10 s),
``Finalize`` (``end_utterance``) and ``CloseStream`` (``end_of_audio``: Deepgram
flushes, sends ``Metadata`` and closes). Deepgram sends ``Results``
(``channel.alternatives[0]``, interim or ``is_final``, with words), ``SpeechStarted``,
``UtteranceEnd`` and ``Metadata``.

stt_settings → parameters: model (nova-2 when unset), language, punctuate,
smart_format, interim_results, endpointing (ms; 0 → false), utterance_end_ms (only
with interim results, which it needs), vad_events=true; ``keywords=word:intensifier``
up to nova-2, ``keyterm=`` on nova-3 (which has no intensifiers: positive keywords
become keyterms; on older models one-word keyterms become keywords, phrases are
dropped with a warning); ``extra`` entries override or add parameters
(``audio_denoising`` is callwright's own and is not sent).

A dropped connection is reopened (``max_reconnect_attempts``, with backoff) and the
audio no final covers yet (up to ``reconnect_buffer_s``, including audio pushed while
disconnected) is sent again, so no words are lost and times carry on; if reopening
fails, the stream fails with ``ProviderUnavailable``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any, Final

import websockets
from websockets.asyncio.client import ClientConnection

from callwright.providers.common import (
    CONNECT_TIMEOUT_S,
    FIRST_BYTE_TIMEOUT_S,
    StreamQueue,
    connect_websocket,
    websocket_url,
)
from callwright.providers.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderRequestError,
    ProviderTimeout,
    ProviderUnavailable,
)
from callwright.providers.protocols import STTOptions, Transcript, Word

__all__ = ["DeepgramSTT", "DeepgramStream", "listen_query"]

logger = logging.getLogger(__name__)

_PROVIDER: Final = "deepgram"
_DEFAULT_BASE_URL: Final = "wss://api.deepgram.com"
_PATH: Final = "/v1/listen"
_QUEUE_SIZE: Final = 64
_REPLAY_CHUNK: Final = 32_000  # bytes per frame when replaying after a reconnect
_CALLWRIGHT_EXTRA: Final = frozenset({"audio_denoising"})
_KEEPALIVE: Final = json.dumps({"type": "KeepAlive"})
_FINALIZE: Final = json.dumps({"type": "Finalize"})
_CLOSE_STREAM: Final = json.dumps({"type": "CloseStream"})


def _flag(value: object) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def listen_query(options: STTOptions, sample_rate: int) -> list[tuple[str, str]]:
    """The ``/v1/listen`` query parameters for ``options`` (see the module docstring)."""
    model = options.model or "nova-2"
    query = [("model", model), ("encoding", "linear16")]
    query += [("sample_rate", str(sample_rate)), ("channels", "1")]
    if options.language:
        query.append(("language", options.language))
    query += [
        ("punctuate", _flag(options.punctuate)),
        ("smart_format", _flag(options.smart_format)),
        ("interim_results", _flag(options.interim_results)),
        ("endpointing", str(options.endpointing_ms) if options.endpointing_ms > 0 else "false"),
        ("vad_events", "true"),
    ]
    if options.interim_results:
        query.append(("utterance_end_ms", str(options.utterance_end_ms)))
    if model.startswith("nova-3"):
        terms = [*options.keyterms, *(word for word, boost in options.keywords if boost > 0)]
        query += [("keyterm", term) for term in dict.fromkeys(terms)]
    else:
        query += [("keywords", f"{word}:{boost:g}") for word, boost in options.keywords]
        for term in options.keyterms:
            if len(term.split()) == 1:
                query.append(("keywords", term.strip()))
            else:
                logger.warning("deepgram: keyterm %r needs a nova-3 model; not sent", term)
    extra = {k: v for k, v in options.extra.items() if k not in _CALLWRIGHT_EXTRA}
    query = [(key, value) for key, value in query if key not in extra]
    for key, value in extra.items():
        values = value if isinstance(value, list | tuple) else [value]
        query += [(key, _flag(item)) for item in values if item is not None]
    return query


class DeepgramSTT:
    """Deepgram live streaming transcription (one WebSocket per call).

    ``base_url``: Deepgram's API (default ``wss://api.deepgram.com``), a self-hosted
    Deepgram or a fake; ``http(s)`` works too. ``keepalive_interval_s``: idle time
    before a ``KeepAlive``. ``first_result_timeout_s``: the longest wait for Deepgram's
    first message once audio was sent (and for the close after ``CloseStream``).
    """

    name = _PROVIDER

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str | None = None,
        sample_rate: int = 16_000,
        keepalive_interval_s: float = 4.0,
        connect_timeout_s: float = CONNECT_TIMEOUT_S,
        first_result_timeout_s: float = FIRST_BYTE_TIMEOUT_S,
        max_reconnect_attempts: int = 3,
        reconnect_backoff_s: float = 0.25,
        reconnect_buffer_s: float = 10.0,
    ) -> None:
        if not api_key:
            raise ValueError("a Deepgram API key is required")
        self._api_key = api_key
        self._base_url = base_url or _DEFAULT_BASE_URL
        self.sample_rate = sample_rate
        self.keepalive_interval_s = keepalive_interval_s
        self.connect_timeout_s = connect_timeout_s
        self.first_result_timeout_s = first_result_timeout_s
        self.max_reconnect_attempts = max_reconnect_attempts
        self.reconnect_backoff_s = reconnect_backoff_s
        self.reconnect_buffer_s = reconnect_buffer_s

    async def open_stream(self, options: STTOptions) -> DeepgramStream:
        """Connect (auth and settings errors surface here) and start streaming."""
        url = websocket_url(self._base_url, _PATH, listen_query(options, self.sample_rate))
        return DeepgramStream(self, url, await self._connect(url))

    async def _connect(self, url: str) -> ClientConnection:
        headers = {"Authorization": f"Token {self._api_key}"}
        return await connect_websocket(
            _PROVIDER, url, headers, open_timeout_s=self.connect_timeout_s, close_timeout_s=2.0
        )


class DeepgramStream:
    """One call's Deepgram stream. ``request_id``, ``speech_started_s`` and
    ``utterance_end_s`` report Deepgram's ``Metadata``, ``SpeechStarted`` and
    ``UtteranceEnd`` (stream times in seconds) for logs and diagnostics."""

    def __init__(self, stt: DeepgramSTT, url: str, connection: ClientConnection) -> None:
        self._stt, self._url = stt, url
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
                connection = await stt._connect(self._url)
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
