"""Gemini Live (the ``BidiGenerateContent`` WebSocket, v1beta; decision 018) as a
``RealtimeModel``: one WebSocket per call to
``<base_url>/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent?key=<key>``.

Set-up is one ``setup`` message (``gemini_wire.setup_message``), answered by
``setupComplete``; a close instead is the vendor refusing it. Caller audio goes as
``realtimeInput.audio`` (PCM16 16 kHz, converted from the call's wire format) and the
model's ``serverContent.modelTurn`` ``inlineData`` audio (PCM16 24 kHz) comes back
converted to it.

Gemini's turns are not the session's: its own activity detection ends the caller's
turn and starts the answer, it has no response ids, no VAD events, no cancel and no
truncate. The connection maps them:

- a model turn that nobody asked for answers the caller: ``CallerSpeechStopped``,
  ``CallerTurnCommitted`` and ``CallerTranscript`` (the ``inputTranscription`` heard so
  far; later pieces follow as more ``CallerTranscript``) come before its first audio,
  and the session's ``Respond`` for that turn is then a no-op (so is the one after a
  ``toolResponse`` or a ``CallerText``: Gemini answers those by itself);
- ``Respond`` otherwise is a ``clientContent`` with ``turnComplete: true`` (with the
  fixed-text instructions as a user turn when given); ``CallerText`` is a
  ``clientContent`` user turn; ``ToolOutput`` a ``toolResponse`` function response
  (with the call's ``id`` and ``name``);
- the first ``inputTranscription`` of a caller turn, or ``interrupted``, is
  ``CallerSpeechStarted``; ``interrupted`` and ``turnComplete`` end the model turn
  (``ResponseDone`` cancelled / completed, with ``usageMetadata``'s token counts);
  ``toolCall`` is a ``ToolCallRequested`` per function call and ends the turn;
- ``CancelResponse`` drops the rest of the model turn here (Gemini cannot stop a
  generation; its own barge-in already stopped it when the caller spoke);
  ``Truncate`` is a no-op: Gemini keeps only what it generated before the
  interruption it detected, which is the vendor's behaviour;
- ``setup`` asks for session resumption; on ``goAway`` (the server will close the
  connection soon) the connection reopens with the latest resumable
  ``sessionResumptionUpdate.newHandle`` and goes on with the same conversation (an
  answer being generated then is lost: it ends as cancelled); without a handle the
  ``goAway`` is only a ``RealtimeNotice``. A close the session did not ask for ends
  ``events()`` with the ``ProviderError`` its code and reason mean.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import copy
import itertools
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, Final

import websockets
from websockets.asyncio.client import ClientConnection

from callwright.providers.catalog import Connection
from callwright.providers.common import CONNECT_TIMEOUT_S, connect_websocket, websocket_url
from callwright.providers.errors import ProviderError, ProviderRequestError, ProviderTimeout
from callwright.providers.realtime.gemini_wire import (
    INPUT_MIME,
    PROVIDER,
    AudioIn,
    AudioOut24,
    closed_error,
    parse_message,
    setting_problems,
    setup_message,
    tool_response,
)
from callwright.providers.realtime.protocol import (
    AppendAudio,
    AudioOut,
    CallerSpeechStarted,
    CallerSpeechStopped,
    CallerText,
    CallerTranscript,
    CallerTurnCommitted,
    CancelResponse,
    RealtimeCommand,
    RealtimeEvent,
    RealtimeNotice,
    RealtimeOptions,
    Respond,
    ResponseDone,
    ToolCallRequested,
    ToolOutput,
    TranscriptOut,
    sample_rate_of,
)
from callwright.providers.realtime.setup import set_up_or_close
from callwright.security.outbound import OutboundPolicy

__all__ = ["PATH", "GeminiLive", "GeminiLiveConnection", "create", "setting_problems"]

logger = logging.getLogger(__name__)

PATH: Final = "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"
_DEFAULT_BASE_URL: Final = "https://generativelanguage.googleapis.com"
_DEFAULT_MODEL: Final = "gemini-3.1-flash-live-preview"
_SET_UP_MESSAGES: Final = 16  # messages read while waiting for setupComplete


class GeminiLive:
    """Gemini's Live API for calls. ``base_url``: Google's (default), a proxy or a fake;
    ``outbound``: the policy a user-given endpoint is reached through."""

    name = PROVIDER

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str | None = None,
        model: str | None = None,
        outbound: OutboundPolicy | None = None,
        open_timeout_s: float = CONNECT_TIMEOUT_S,
    ) -> None:
        if not api_key:
            raise ValueError("a Gemini API key is required")
        self._api_key = api_key
        self._base_url = base_url or _DEFAULT_BASE_URL
        websocket_url(self._base_url, PATH)  # a malformed endpoint fails here
        self.model = model or _DEFAULT_MODEL
        self._outbound = outbound
        self._open_timeout_s = open_timeout_s

    async def connect(self, options: RealtimeOptions) -> GeminiLiveConnection:
        setup = setup_message(options, options.model or self.model)  # a bad voice fails here
        url = websocket_url(self._base_url, PATH, [("key", self._api_key)])

        async def reopen() -> ClientConnection:
            return await connect_websocket(
                PROVIDER, url, open_timeout_s=self._open_timeout_s, outbound=self._outbound
            )

        connection = GeminiLiveConnection(
            await reopen(), options, setup, reopen=reopen, set_up_s=self._open_timeout_s
        )
        await set_up_or_close(
            connection,
            connection.set_up(setup),
            provider=PROVIDER,
            timeout_s=self._open_timeout_s,
            unacknowledged="the setup was not acknowledged",
        )
        return connection


class GeminiLiveConnection:
    """One call's Live session (see the module docstring for the mapping)."""

    def __init__(
        self,
        websocket: ClientConnection,
        options: RealtimeOptions,
        setup: dict[str, Any],
        *,
        reopen: Callable[[], Awaitable[ClientConnection]],
        set_up_s: float = CONNECT_TIMEOUT_S,
    ) -> None:
        self._websocket = websocket
        self._setup = setup
        self._reopen = reopen
        self._set_up_s = set_up_s
        self._handle: str | None = None  # the latest resumable session handle
        self._ready = asyncio.Event()  # clear while a resumed session is being set up
        self._ready.set()
        self._closing = False
        self._bytes_per_ms = (
            (1 if options.audio == "pcmu" else 2) * sample_rate_of(options.audio) / 1000
        )
        self._in = AudioIn(options.audio)
        self._out = AudioOut24(options.audio)
        self._ids = itertools.count(1)
        self._caller_ms = 0.0  # caller audio sent
        self._caller: str | None = None  # the caller's turn being heard, uncommitted
        self._caller_words = ""
        self._committed: str | None = None  # the last committed caller turn
        self._answering: str | None = None  # the model turn that answers it
        self._turn: str | None = None  # the model turn being received
        self._dropping = False  # its rest is dropped (CancelResponse)
        self._closing_turn = False  # a turn ended here whose server end may still come
        self._requested = 0  # model turns asked for and not yet begun
        self._owed = False  # a turn began unasked: the next Respond(None) is a no-op
        self._superseding = False  # a clientContent sent over a model turn stops it
        self._tool_names: dict[str, str] = {}
        self._tool_batch = False  # function calls awaiting their results
        self._usage = (0, 0)

    async def set_up(self, setup: dict[str, Any]) -> None:
        """Send ``setup``; return once ``setupComplete`` came."""
        await self._send(setup)
        for _ in range(_SET_UP_MESSAGES):
            message = await self._receive()
            if "setupComplete" in message:
                return
        raise ProviderRequestError(PROVIDER, "the setup was never acknowledged")

    async def _receive(self) -> dict[str, Any]:
        try:
            raw = await self._websocket.recv()
        except websockets.ConnectionClosed as exc:
            raise self._closed(exc) from exc
        return parse_message(raw)

    def _closed(self, exc: websockets.ConnectionClosed) -> ProviderError:
        close = exc.rcvd
        return closed_error(close.code if close else None, close.reason if close else "")

    # -- commands -----------------------------------------------------------------------

    async def send(self, command: RealtimeCommand) -> None:
        if not self._ready.is_set():
            if isinstance(command, AppendAudio):
                return  # the caller's audio while the session moves is not heard
            await self._ready.wait()
        if isinstance(command, AppendAudio):
            pcm16 = self._in.convert(command.audio)
            self._caller_ms += len(command.audio) / self._bytes_per_ms
            if pcm16:
                data = base64.b64encode(pcm16).decode("ascii")
                await self._send(
                    {"realtimeInput": {"audio": {"data": data, "mimeType": INPUT_MIME}}}
                )
        elif isinstance(command, Respond):
            if command.instructions is None and self._owed:
                self._owed = False  # Gemini answers it by itself
                return
            content: dict[str, Any] = {"turnComplete": True}
            self._superseding = self._turn is not None  # Gemini stops it for this one
            if command.instructions:
                content["turns"] = [{"role": "user", "parts": [{"text": command.instructions}]}]
            self._requested += 1
            await self._send({"clientContent": content})
        elif isinstance(command, CallerText):
            turn = {"role": "user", "parts": [{"text": command.text}]}
            self._superseding = self._turn is not None
            self._requested += 1
            self._owed = True
            await self._send({"clientContent": {"turns": [turn], "turnComplete": True}})
        elif isinstance(command, ToolOutput):
            if self._tool_batch:  # the model goes on once it has the results
                self._tool_batch = False
                self._requested += 1
                self._owed = True
            response = {
                "id": command.call_id,
                "name": self._tool_names.pop(command.call_id, ""),
                "response": tool_response(command.output),
            }
            await self._send({"toolResponse": {"functionResponses": [response]}})
        elif isinstance(command, CancelResponse) and self._turn is not None and not self._dropping:
            self._dropping = True
            self._out.reset()
        # Truncate: Gemini has none (see the module docstring).

    async def _send(self, message: dict[str, Any]) -> None:
        try:
            await self._websocket.send(json.dumps(message, separators=(",", ":")))
        except websockets.ConnectionClosed as exc:
            raise self._closed(exc) from exc

    # -- events -------------------------------------------------------------------------

    async def events(self) -> AsyncIterator[RealtimeEvent]:
        resumed = True
        try:
            while resumed:
                resumed = False
                async for raw in self._websocket:
                    message = parse_message(raw)
                    found = list(self._events(message))
                    if "goAway" in message and self._handle is not None:
                        # Moved before anything is reported: the session goes on.
                        found = [*self._end("cancelled"), *found]
                        await self._resume()
                        resumed = True
                    for event in found:
                        yield event
                    if resumed:
                        break
        except websockets.ConnectionClosed as exc:
            if not self._closing:
                raise self._closed(exc) from exc
            return
        if not self._closing:
            close = self._websocket.close_code, self._websocket.close_reason or ""
            raise closed_error(close[0], close[1])

    async def _resume(self) -> None:
        """A new connection carrying on the session the handle names."""
        setup = copy.deepcopy(self._setup)
        setup["setup"]["sessionResumption"] = {"handle": self._handle}
        self._ready.clear()
        old = self._websocket
        try:
            self._websocket = await self._reopen()
            async with asyncio.timeout(self._set_up_s):
                await self.set_up(setup)
            # Whatever was asked of the old connection and not begun is gone with it
            # (reset before the commands held back meanwhile go to the new one).
            self._requested, self._owed, self._closing_turn = 0, False, False
            self._caller, self._caller_words, self._superseding = None, "", False
        except TimeoutError as exc:
            raise ProviderTimeout(PROVIDER, "the resumed session was not set up") from exc
        finally:
            self._ready.set()
            await old.close()
        logger.info("Gemini Live session resumed on a new connection")

    def _events(self, message: dict[str, Any]) -> Iterator[RealtimeEvent]:
        usage = message.get("usageMetadata")
        if isinstance(usage, dict):
            self._usage = (
                int(usage.get("promptTokenCount") or 0),
                int(usage.get("responseTokenCount") or 0),
            )
        content = message.get("serverContent")
        if isinstance(content, dict):
            yield from self._content(content)
        calls = message.get("toolCall")
        if isinstance(calls, dict):
            yield from self._begin()
            for call in calls.get("functionCalls") or []:
                call_id, name = str(call.get("id") or ""), str(call.get("name") or "")
                self._tool_names[call_id] = name
                arguments = json.dumps(call.get("args") or {})
                if not self._dropping:
                    yield ToolCallRequested(call_id, name, arguments)
            self._tool_batch = True
            yield from self._end("completed", closing=True)
        update = message.get("sessionResumptionUpdate")
        if isinstance(update, dict) and update.get("resumable") and update.get("newHandle"):
            self._handle = str(update["newHandle"])
        if "goAway" in message:
            left = (message.get("goAway") or {}).get("timeLeft", "soon")
            then = "resuming on a new connection" if self._handle else "no handle to resume"
            yield RealtimeNotice(f"Gemini will close the session in {left} (goAway): {then}")

    def _content(self, content: dict[str, Any]) -> Iterator[RealtimeEvent]:
        heard = content.get("inputTranscription")
        if isinstance(heard, dict) and heard.get("text"):
            yield from self._heard(str(heard["text"]))
        if content.get("interrupted"):
            if self._superseding:
                self._superseding = False  # our new turn stopped it, not the caller
            elif self._caller is None:
                self._caller, self._caller_words = f"in-{next(self._ids)}", ""
                yield CallerSpeechStarted(int(self._caller_ms))
            if self._turn is None and self._requested and not self._closing_turn:
                self._requested -= 1  # asked for, cut before it began
            yield from self._end("cancelled")
        turn = content.get("modelTurn")
        if isinstance(turn, dict):
            for part in turn.get("parts") or []:
                inline = part.get("inlineData") if isinstance(part, dict) else None
                if isinstance(inline, dict) and str(inline.get("mimeType", "")).startswith(
                    "audio/pcm"
                ):
                    yield from self._audio(str(inline.get("data", "")))
        said = content.get("outputTranscription")
        if isinstance(said, dict) and said.get("text"):
            yield from self._begin()
            if not self._dropping and self._turn is not None:
                yield TranscriptOut(self._turn, str(said["text"]))
        if content.get("turnComplete"):
            if self._turn is not None:
                yield from self._end("completed")
            elif self._closing_turn:
                self._closing_turn = False  # the server's end of a turn ended here
            elif self._requested:
                self._requested -= 1  # asked for, and the model said nothing
                yield ResponseDone("completed", *self._usage)
        # generationComplete needs nothing: turnComplete follows once all is sent.

    def _heard(self, text: str) -> Iterator[RealtimeEvent]:
        answering = self._turn is not None and self._turn == self._answering
        if answering and self._caller is None and self._committed is not None:
            # A late piece of the caller's turn the model is answering.
            yield CallerTranscript(self._committed, text)
            return
        if self._caller is None:
            self._caller, self._caller_words = f"in-{next(self._ids)}", ""
            yield CallerSpeechStarted(int(self._caller_ms))
        self._caller_words += text

    def _audio(self, data: str) -> Iterator[RealtimeEvent]:
        try:
            pcm24 = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            yield RealtimeNotice("an audio part was not base64")
            return
        yield from self._begin()
        if self._dropping or self._turn is None:
            return
        audio = self._out.convert(pcm24)
        if audio:
            yield AudioOut(self._turn, audio)

    def _begin(self) -> Iterator[RealtimeEvent]:
        """The model's content arrived: the turn it belongs to, begun if new."""
        if self._turn is not None:
            return
        self._closing_turn = False
        self._turn, self._dropping = f"out-{next(self._ids)}", False
        if self._requested:
            self._requested -= 1
            return
        # Nobody asked: Gemini's activity detection ended the caller's turn.
        caller = self._caller or f"in-{next(self._ids)}"
        if self._caller is None:
            yield CallerSpeechStarted(int(self._caller_ms))
        yield CallerSpeechStopped(int(self._caller_ms))
        yield CallerTurnCommitted(caller, self._turn)
        yield CallerTranscript(caller, self._caller_words)
        self._caller, self._caller_words = None, ""
        self._committed, self._answering = caller, self._turn
        self._owed = True

    def _end(self, status: str, *, closing: bool = False) -> Iterator[RealtimeEvent]:
        if self._turn is None:
            return
        if not self._dropping and (tail := self._out.flush()):
            yield AudioOut(self._turn, tail)
        if self._dropping:
            status = "cancelled"
        turn = self._turn
        self._turn, self._dropping, self._closing_turn = None, False, closing
        self._superseding = False
        yield ResponseDone(status, *self._usage, item_id=turn)
        self._usage = (0, 0)

    async def aclose(self) -> None:
        self._closing = True
        await self._websocket.close()


def create(c: Connection) -> GeminiLive:
    """The catalog's factory."""
    return GeminiLive(c.api_key, base_url=c.base_url, model=c.model, outbound=c.outbound)
