"""Gemini Live's turns as the session's (decision 018): the state of the caller's and
the model's turns, the client message each session command is, and the
``RealtimeEvent``s each parsed server message means. Pure and synchronous: the
connection (``gemini.py``) sends what it is given and yields what it gets.

Gemini's turns are not the session's: its own activity detection ends the caller's
turn and starts the answer, it has no response ids, no VAD events, no cancel and no
truncate. The mapping:

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
  interruption it detected, which is the vendor's behaviour.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
from collections.abc import Iterator
from typing import Any

from callwright.providers.realtime.gemini_wire import AudioOut24, tool_response
from callwright.providers.realtime.protocol import (
    AudioOut,
    CallerSpeechStarted,
    CallerSpeechStopped,
    CallerText,
    CallerTranscript,
    CallerTurnCommitted,
    CancelResponse,
    RealtimeAudio,
    RealtimeCommand,
    RealtimeEvent,
    RealtimeNotice,
    Respond,
    ResponseDone,
    ToolCallRequested,
    ToolOutput,
    TranscriptOut,
    sample_rate_of,
)

__all__ = ["GeminiTurns"]


class GeminiTurns:
    """One call's turns, in the call's wire ``audio`` (see the module docstring). Told
    the caller's audio (``caller_audio``) and the session's commands (``command``), it
    maps each server message (``events``); ``cancel_turn`` and ``reconnected`` are the
    connection moving to a new WebSocket."""

    def __init__(self, audio: RealtimeAudio) -> None:
        self._bytes_per_ms = (1 if audio == "pcmu" else 2) * sample_rate_of(audio) / 1000
        self._out = AudioOut24(audio)
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

    # -- what the session sends -----------------------------------------------------------

    def caller_audio(self, audio: bytes) -> None:
        """The caller's ``audio`` (wire format) went to Gemini: the clock the caller's
        speech events are stamped with."""
        self._caller_ms += len(audio) / self._bytes_per_ms

    def command(self, command: RealtimeCommand) -> dict[str, Any] | None:
        """The client message ``command`` is, None when nothing goes to Gemini
        (``AppendAudio`` is the connection's: see ``caller_audio``)."""
        if isinstance(command, Respond):
            if command.instructions is None and self._owed:
                self._owed = False  # Gemini answers it by itself
                return None
            content: dict[str, Any] = {"turnComplete": True}
            self._superseding = self._turn is not None  # Gemini stops it for this one
            if command.instructions:
                content["turns"] = [{"role": "user", "parts": [{"text": command.instructions}]}]
            self._requested += 1
            return {"clientContent": content}
        if isinstance(command, CallerText):
            turn = {"role": "user", "parts": [{"text": command.text}]}
            self._superseding = self._turn is not None
            self._requested += 1
            self._owed = True
            return {"clientContent": {"turns": [turn], "turnComplete": True}}
        if isinstance(command, ToolOutput):
            if self._tool_batch:  # the model goes on once it has the results
                self._tool_batch = False
                self._requested += 1
                self._owed = True
            response = {
                "id": command.call_id,
                "name": self._tool_names.pop(command.call_id, ""),
                "response": tool_response(command.output),
            }
            return {"toolResponse": {"functionResponses": [response]}}
        if isinstance(command, CancelResponse) and self._turn is not None and not self._dropping:
            self._dropping = True
            self._out.reset()
        # Truncate: Gemini has none (see the module docstring).
        return None

    # -- what the server sends ------------------------------------------------------------

    def events(self, message: dict[str, Any]) -> list[RealtimeEvent]:
        """The session's events for one parsed server message (``usageMetadata``,
        ``serverContent``, ``toolCall``; the rest is the connection's)."""
        return list(self._events(message))

    def cancel_turn(self) -> list[RealtimeEvent]:
        """The model turn under way, if any, ended as cancelled: the connection it
        streams on is going away."""
        return list(self._end("cancelled"))

    def reconnected(self) -> None:
        """The session goes on over a new connection: whatever was asked of the old one
        and not begun is gone with it, and so is the caller's turn being heard."""
        self._requested, self._owed, self._closing_turn = 0, False, False
        self._caller, self._caller_words, self._superseding = None, "", False

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
