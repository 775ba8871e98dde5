"""Gemini Live (the ``BidiGenerateContent`` WebSocket, v1beta; decision 018) as a
``RealtimeModel``: one WebSocket per call to
``<base_url>/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent?key=<key>``.

Set-up is one ``setup`` message (``gemini_wire.setup_message``), answered by
``setupComplete``; a close instead is the vendor refusing it. Caller audio goes as
``realtimeInput.audio`` (PCM16 16 kHz, converted from the call's wire format) and the
model's ``serverContent.modelTurn`` ``inlineData`` audio (PCM16 24 kHz) comes back
converted to it.

Gemini's turns are not the session's: its own activity detection ends the caller's
turn and starts the answer, and it has no response ids, no VAD events, no cancel and no
truncate. ``gemini_turns.GeminiTurns`` holds the turns' state and maps both ways (the
session's commands to client messages, the server's messages to the session's events);
its docstring gives the mapping. This module keeps the connection: set-up, sending,
receiving, resumption and close.

``setup`` asks for session resumption; on ``goAway`` (the server will close the
connection soon) the connection reopens with the latest resumable
``sessionResumptionUpdate.newHandle`` and goes on with the same conversation (an
answer being generated then is lost: it ends as cancelled); without a handle the
``goAway`` is only a ``RealtimeNotice``. A close the session did not ask for ends
``events()`` with the ``ProviderError`` its code and reason mean.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Final

import websockets
from websockets.asyncio.client import ClientConnection

from callwright.providers.catalog import Connection
from callwright.providers.common import CONNECT_TIMEOUT_S, connect_websocket, websocket_url
from callwright.providers.errors import ProviderError, ProviderRequestError, ProviderTimeout
from callwright.providers.realtime.gemini_turns import GeminiTurns
from callwright.providers.realtime.gemini_wire import (
    INPUT_MIME,
    PROVIDER,
    AudioIn,
    closed_error,
    parse_message,
    setting_problems,
    setup_message,
)
from callwright.providers.realtime.protocol import (
    AppendAudio,
    RealtimeCommand,
    RealtimeEvent,
    RealtimeNotice,
    RealtimeOptions,
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
    """One call's Live session: the WebSocket, its set-up and resumption; the turns are
    ``GeminiTurns``'s (see the module docstrings)."""

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
        self._in = AudioIn(options.audio)
        self._turns = GeminiTurns(options.audio)

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
            self._turns.caller_audio(command.audio)
            if pcm16:
                data = base64.b64encode(pcm16).decode("ascii")
                await self._send(
                    {"realtimeInput": {"audio": {"data": data, "mimeType": INPUT_MIME}}}
                )
        elif (message := self._turns.command(command)) is not None:
            await self._send(message)

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
                    found = [*self._turns.events(message), *self._resumption(message)]
                    if "goAway" in message and self._handle is not None:
                        # Moved before anything is reported: the session goes on.
                        found = [*self._turns.cancel_turn(), *found]
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
            # Before the commands held back meanwhile go to the new one.
            self._turns.reconnected()
        except TimeoutError as exc:
            raise ProviderTimeout(PROVIDER, "the resumed session was not set up") from exc
        finally:
            self._ready.set()
            await old.close()
        logger.info("Gemini Live session resumed on a new connection")

    def _resumption(self, message: dict[str, Any]) -> list[RealtimeEvent]:
        """Note the latest resumable handle; a ``goAway`` is a notice saying what follows."""
        update = message.get("sessionResumptionUpdate")
        if isinstance(update, dict) and update.get("resumable") and update.get("newHandle"):
            self._handle = str(update["newHandle"])
        if "goAway" not in message:
            return []
        left = (message.get("goAway") or {}).get("timeLeft", "soon")
        then = "resuming on a new connection" if self._handle else "no handle to resume"
        return [RealtimeNotice(f"Gemini will close the session in {left} (goAway): {then}")]

    async def aclose(self) -> None:
        self._closing = True
        await self._websocket.close()


def create(c: Connection) -> GeminiLive:
    """The catalog's factory."""
    return GeminiLive(c.api_key, base_url=c.base_url, model=c.model, outbound=c.outbound)
