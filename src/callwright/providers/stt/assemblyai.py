"""AssemblyAI Universal-Streaming (v3) over WebSocket (``wss://streaming.assemblyai.com/v3/ws``).

As AssemblyAI's Streaming API reference, "Message Sequence" and "Common session errors
and closures" pages document it: the handshake carries ``Authorization: <api key>``
and the settings as query parameters; the server opens with ``Begin``; audio goes up
as binary PCM16 (``encoding=pcm_s16le``) in chunks of 50–1000 ms, so the engine's
20 ms frames are regrouped into 100 ms chunks (and the tail padded with silence to
50 ms before a control message); the server answers with ``Turn`` messages.
``{"type": "ForceEndpoint"}`` ends the current turn (``end_utterance``);
``{"type": "Terminate"}`` ends the session (``end_of_audio``): the last turns,
``Termination``, then a 1000 close. A failure is an ``Error`` frame and a close with
the same code, ending ``transcripts()`` with the ``ProviderError`` it means (a session
is not resumed: a new one restarts the clock).

The wire format (the query parameters stt_settings become, the control messages, the
close codes' errors, ``Turn`` messages as ``Transcript``s) is ``assemblyai_wire``'s.
AssemblyAI always sends partial turns; without ``interim_results`` they are dropped
here.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Final

import websockets
from websockets.asyncio.client import ClientConnection

from callwright.providers.catalog import Connection
from callwright.providers.common import (
    CONNECT_TIMEOUT_S,
    FIRST_BYTE_TIMEOUT_S,
    StreamQueue,
    connect_websocket,
    json_object,
    websocket_url,
)
from callwright.providers.errors import ProviderError, ProviderTimeout, ProviderUnavailable
from callwright.providers.protocols import STTOptions, Transcript
from callwright.providers.stt.assemblyai_wire import (
    FORCE_ENDPOINT,
    PROVIDER,
    TERMINATE,
    AssemblyAIOptions,
    Termination,
    error_of,
    options,
    own_options,
    parse_message,
    streaming_query,
)
from callwright.security.outbound import OutboundPolicy

__all__ = [
    "AssemblyAIOptions",
    "AssemblyAISTT",
    "AssemblyAIStream",
    "create",
    "options",
    "streaming_query",
]

_DEFAULT_BASE_URL: Final = "wss://streaming.assemblyai.com"
_PATH: Final = "/v3/ws"
_QUEUE_SIZE: Final = 64
_CHUNK_S: Final = 0.1  # within AssemblyAI's 50-1000 ms per message
_MIN_CHUNK_S: Final = 0.05


class AssemblyAISTT:
    """AssemblyAI Universal-Streaming transcription (one session per call).

    ``base_url``: AssemblyAI's (default ``wss://streaming.assemblyai.com``; the EU one
    is ``wss://streaming.eu.assemblyai.com``) or a fake; ``http(s)`` works too.
    ``first_result_timeout_s``: the longest wait for ``Begin`` after connecting, and for
    the end of the session after ``Terminate``.
    """

    name = PROVIDER

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str | None = None,
        sample_rate: int = 16_000,
        connect_timeout_s: float = CONNECT_TIMEOUT_S,
        first_result_timeout_s: float = FIRST_BYTE_TIMEOUT_S,
        outbound: OutboundPolicy | None = None,
    ) -> None:
        if not api_key:
            raise ValueError("an AssemblyAI API key is required")
        self._api_key = api_key
        self._outbound = outbound
        self._base_url = base_url or _DEFAULT_BASE_URL
        self.sample_rate = sample_rate
        self.connect_timeout_s = connect_timeout_s
        self.first_result_timeout_s = first_result_timeout_s

    async def open_stream(self, options: STTOptions) -> AssemblyAIStream:
        """Connect and wait for ``Begin`` (auth and settings errors surface here)."""
        url = websocket_url(self._base_url, _PATH, streaming_query(options, self.sample_rate))
        connection = await connect_websocket(
            PROVIDER,
            url,
            {"Authorization": self._api_key},
            open_timeout_s=self.connect_timeout_s,
            close_timeout_s=2.0,
            outbound=self._outbound,
        )
        try:
            async with asyncio.timeout(self.first_result_timeout_s):
                frame = await connection.recv()
        except TimeoutError as exc:
            await connection.close()
            timeout_s = self.first_result_timeout_s
            raise ProviderTimeout(PROVIDER, f"no Begin within {timeout_s:g} s") from exc
        except websockets.ConnectionClosed as exc:
            raise error_of(connection.close_code, connection.close_reason or "") from exc
        except BaseException:
            await connection.close()
            raise
        try:
            begin = json_object(PROVIDER, frame)
        except ProviderUnavailable:
            await connection.close()
            raise
        if begin.get("type") != "Begin":  # an Error frame: the close follows
            await connection.close()
            raise error_of(begin.get("error_code"), str(begin.get("error", "no Begin message")))
        return AssemblyAIStream(self, connection, options, session_id=str(begin.get("id", "")))


class AssemblyAIStream:
    """One call's AssemblyAI session; ``session_id`` is ``Begin``'s ``id`` and
    ``audio_duration_s`` what ``Termination`` reported."""

    def __init__(
        self,
        stt: AssemblyAISTT,
        connection: ClientConnection,
        options: STTOptions,
        *,
        session_id: str,
    ) -> None:
        self._stt, self._connection = stt, connection
        self._loop = asyncio.get_running_loop()
        self._interim_results = options.interim_results
        self._format_turns = own_options(options).format_turns
        self._chunk_bytes = 2 * int(_CHUNK_S * stt.sample_rate)
        self._min_chunk_bytes = 2 * int(_MIN_CHUNK_S * stt.sample_rate)
        self._buffer = bytearray()
        self._send_lock = asyncio.Lock()
        self._transcripts: StreamQueue[Transcript] = StreamQueue(_QUEUE_SIZE)
        self._deadline: asyncio.Timeout | None = None
        self._ending = self._closed = False
        self._error: ProviderError | None = None
        self.session_id = session_id
        self.audio_duration_s: float | None = None
        self._runner = self._loop.create_task(self._run())

    async def push_audio(self, pcm16: bytes) -> None:
        """Send PCM16 mono audio at the STT's sample rate (in 100 ms chunks)."""
        self._check_open("push_audio")
        if len(pcm16) % 2:
            raise ValueError("PCM16 audio must be a whole number of 2-byte samples")
        async with self._send_lock:
            self._buffer += pcm16
            while len(self._buffer) >= self._chunk_bytes:
                chunk = bytes(self._buffer[: self._chunk_bytes])
                del self._buffer[: self._chunk_bytes]
                await self._send(chunk)

    async def end_utterance(self) -> None:
        """Send ``ForceEndpoint``: the current turn ends and its final follows."""
        self._check_open("end_utterance")
        await self._flush_then(FORCE_ENDPOINT)

    def discard_utterance(self) -> None:
        """Nothing to drop: AssemblyAI transcribes as audio arrives (what is buffered
        here is under 100 ms, waiting to fill a chunk)."""

    async def end_of_audio(self) -> None:
        """Send ``Terminate``: the last turns follow, then ``transcripts()`` ends."""
        if self._error is not None:
            raise self._error
        if self._ending or self._closed:
            return
        self._ending = True
        await self._flush_then(TERMINATE)
        self._arm_deadline()

    def transcripts(self) -> AsyncIterator[Transcript]:
        return self._transcripts

    async def aclose(self) -> None:
        """Close the session (without ``Terminate``) and end ``transcripts()``."""
        if self._closed:
            return
        self._closed = True
        self._runner.cancel()
        await asyncio.wait({self._runner})
        await self._connection.close()
        self._transcripts.discard()

    def _arm_deadline(self) -> None:
        """After ``Terminate``, the session must end within ``first_result_timeout_s``."""
        if self._ending and self._deadline is not None and not self._deadline.expired():
            self._deadline.reschedule(self._loop.time() + self._stt.first_result_timeout_s)

    def _check_open(self, what: str) -> None:
        if self._error is not None:
            raise self._error
        if self._ending or self._closed:
            raise RuntimeError(f"{what} on a stream that has ended")

    async def _flush_then(self, control: str) -> None:
        async with self._send_lock:
            if self._buffer:  # padded with silence: shorter chunks are refused
                pad = max(0, self._min_chunk_bytes - len(self._buffer))
                await self._send(bytes(self._buffer) + bytes(pad))
                self._buffer.clear()
            await self._send(control)

    async def _send(self, message: bytes | str) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):  # the reader says why
            await self._connection.send(message)

    async def _run(self) -> None:
        error: ProviderError | None = None  # from an Error frame, before the close
        try:
            async with asyncio.timeout(None) as self._deadline:
                self._arm_deadline()
                async for message in self._connection:
                    if isinstance(message, str):
                        error = await self._on_message(message) or error
        except TimeoutError:
            timeout_s = self._stt.first_result_timeout_s
            error = ProviderTimeout(PROVIDER, f"the session did not end within {timeout_s:g} s")
        except ProviderError as exc:
            error = exc
        except websockets.ConnectionClosedError:
            pass
        finally:
            self._deadline = None
        connection = self._connection
        if error is None and not (self._ending and connection.close_code == 1000):
            reason = connection.close_reason or "the connection dropped"
            error = error_of(connection.close_code, reason)
        if error is not None:
            self._error = error
        self._transcripts.finish(error)

    async def _on_message(self, text: str) -> ProviderError | None:
        message = parse_message(text, format_turns=self._format_turns)
        if isinstance(message, ProviderError):
            return message  # the close follows: it ends the stream with this error
        if isinstance(message, Termination):
            self.audio_duration_s = message.audio_duration_s
        elif message is not None and message.is_final:
            await self._transcripts.put(message)
        elif message is not None and self._interim_results:
            self._transcripts.offer(message)  # full: the consumer is behind; skip it
        return None


def create(c: Connection) -> AssemblyAISTT:
    """The catalog's factory."""
    return AssemblyAISTT(
        c.api_key, base_url=c.base_url, sample_rate=c.sample_rate, outbound=c.outbound
    )
