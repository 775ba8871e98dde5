"""A call's record and recording, assembled in memory while the call runs.

``CallRecorder`` is the session's event sink: each event costs a list append, nothing
more (no I/O on the audio path). ``StereoRecording`` wraps the transport and keeps
both sides of the conversation on one timeline: caller audio as it arrives (left),
assistant audio where the far end plays it (right) — sent audio queues behind what is
still playing, and a barge-in's ``clear`` drops what was never heard.
"""

from __future__ import annotations

import io
import wave
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from callwright.domain.knowledge.retrieval import knowledge_record
from callwright.engine.events import (
    AssistantMessage,
    CallEnded,
    EndReason,
    KnowledgeUsed,
    ProviderFailed,
    SessionEvent,
    ToolAnswered,
    ToolCalled,
    TurnTiming,
    UserMessage,
)
from callwright.transports.protocol import AudioReceived, Transport, TransportEvent

__all__ = ["CallRecorder", "StereoRecording", "stereo_frames", "timing_row"]


def timing_row(timing: TurnTiming) -> dict[str, Any]:
    """One turn's timings as milliseconds between its milestones."""

    def ms(later: float | None, earlier: float | None) -> float | None:
        if later is None or earlier is None:
            return None
        return round((later - earlier) * 1000, 1)

    return {
        "turn": timing.turn,
        "llm_provider": timing.llm_provider,
        "tts_provider": timing.tts_provider,
        "stt_provider": timing.stt_provider,
        "llm_errors": [{"provider": e.provider, "error": e.error} for e in timing.llm_errors],
        "endpointing_ms": ms(timing.end_of_turn_at, timing.user_stopped_at),
        "stt_final_ms": ms(timing.stt_final_at, timing.user_stopped_at),
        "llm_first_token_ms": ms(timing.llm_first_token_at, timing.llm_request_at),
        "first_sentence_ms": ms(timing.first_sentence_at, timing.llm_request_at),
        "tts_first_audio_ms": ms(timing.tts_first_audio_at, timing.tts_request_at),
        "first_frame_out_ms": ms(timing.first_frame_out_at, timing.end_of_turn_at),
        "playback_confirmed_ms": ms(timing.playback_confirmed_at, timing.first_frame_out_at),
        "voice_to_voice_ms": ms(timing.first_frame_out_at, timing.user_stopped_at),
        "prompt_tokens": timing.prompt_tokens,
        "completion_tokens": timing.completion_tokens,
        "preempted": timing.preempted,
        "preemptions_wasted": timing.preemptions_wasted,
    }


Notify = Callable[[str, dict[str, Any]], None]


@dataclass
class CallRecorder:
    """Collects a call's transcript, tool calls, timings and usage from session events.
    ``notify(kind, data)`` (non-blocking) hears each final transcript line and tool
    call as it happens, for webhooks. A line the assistant said because its reply
    failed carries ``apology_for`` (the error); a transcriber or voice that failed
    mid-call is in ``failovers``, shaped like the call's provider choices."""

    started_at: float
    notify: Notify | None = None
    messages: list[dict[str, Any]] = field(default_factory=list)
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    knowledge: list[dict[str, Any]] = field(default_factory=list)
    turns: list[dict[str, Any]] = field(default_factory=list)
    failovers: list[dict[str, Any]] = field(default_factory=list)
    # Tokens by the LLM that produced them: a fallback's answers are its own.
    tokens_by_llm: dict[str, dict[str, int]] = field(default_factory=dict)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    tts_characters: int = 0
    end_reason: EndReason | None = None
    end_detail: str | None = None
    ended_at: float | None = None
    # Where the caller's last turn (not an aside) is in ``messages``.
    _last_turn_line: int | None = field(default=None, repr=False)

    def __call__(self, event: SessionEvent) -> None:
        if isinstance(event, UserMessage):
            line = {"role": "user", "text": event.text, "seconds_from_start": self._s(event.at)}
            turn = self._last_turn_line
            if event.continues and turn is not None:
                # The caller went on before hearing an answer: one turn, one line.
                line["seconds_from_start"] = self.messages[turn]["seconds_from_start"]
                self.messages[turn] = line
            else:
                if not event.aside:
                    self._last_turn_line = len(self.messages)
                self.messages.append(line)
            self._notify("transcript", line)
        elif isinstance(event, AssistantMessage):
            self.tts_characters += len(event.intended)
            line = {
                "role": "assistant",
                "text": event.text,
                "seconds_from_start": self._s(event.at),
                "interrupted": event.interrupted,
            }
            if event.interrupted:
                line["intended"] = event.intended
            if event.apology_for is not None:
                line["apology_for"] = event.apology_for
            self.messages.append(line)
            if event.text:
                self._notify("transcript", line)
        elif isinstance(event, ToolCalled):
            call = {
                "id": event.call_id,
                "name": event.name,
                "arguments": event.arguments,
                "seconds_from_start": self._s(event.at),
                "result": None,
            }
            self.tool_calls.append(call)
            self._notify("tool-call", call)
        elif isinstance(event, ToolAnswered):
            for call in self.tool_calls:
                if call["id"] == event.call_id:
                    call["result"] = event.result
        elif isinstance(event, KnowledgeUsed):
            used = knowledge_record(event)
            used["seconds_from_start"] = self._s(event.at)
            self.knowledge.append(used)
        elif isinstance(event, ProviderFailed):
            self.failovers.append(
                {
                    "kind": event.kind,
                    "requested": event.provider,
                    "chosen": event.replacement or "none",
                    "reason": f"failed during the call: {event.error}",
                    "seconds_from_start": self._s(event.at),
                }
            )
        elif isinstance(event, TurnTiming):
            self.prompt_tokens += event.prompt_tokens
            self.completion_tokens += event.completion_tokens
            if event.llm_provider is not None:
                tokens = self.tokens_by_llm.setdefault(
                    event.llm_provider, {"prompt_tokens": 0, "completion_tokens": 0}
                )
                tokens["prompt_tokens"] += event.prompt_tokens
                tokens["completion_tokens"] += event.completion_tokens
            if event.turn > 0 or event.first_frame_out_at is not None or event.llm_errors:
                self.turns.append(timing_row(event))
        elif isinstance(event, CallEnded):
            self.end_reason, self.end_detail, self.ended_at = event.reason, event.detail, event.at

    def _s(self, at: float) -> float:
        return round(at - self.started_at, 3)

    def _notify(self, kind: str, data: dict[str, Any]) -> None:
        if self.notify is not None:
            self.notify(kind, data)

    def usage(self, *, stt_seconds: float, llm: str, stt: str, tts: str) -> dict[str, Any]:
        return {
            "llm": {
                "provider": llm,
                "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens,
                "by_provider": self.tokens_by_llm,
            },
            "tts": {"provider": tts, "characters": self.tts_characters},
            "stt": {"provider": stt, "seconds": round(stt_seconds, 3)},
        }


def stereo_frames(caller: bytes, assistant: bytes) -> bytes:
    """Two PCM16 channels as interleaved stereo frames (caller left, assistant right),
    the shorter padded with silence; CPU work: call it off the loop."""
    left = np.frombuffer(caller, dtype="<i2")
    right = np.frombuffer(assistant, dtype="<i2")
    stereo = np.zeros((max(len(left), len(right)), 2), dtype="<i2")
    stereo[: len(left), 0] = left
    stereo[: len(right), 1] = right
    return stereo.tobytes()


class StereoRecording:
    """A transport wrapper that records both sides: caller left, assistant right, PCM16
    at the transport's rate. The timeline is the caller's audio clock (a phone line sends
    20 ms frames continuously), so the two channels stay aligned without wall time."""

    def __init__(self, inner: Transport) -> None:
        self._inner = inner
        self.sample_rate = inner.sample_rate
        self._caller = bytearray()
        self._assistant = bytearray()
        # Where the assistant's queued audio ends, in samples on the caller's timeline.
        self._assistant_end = 0
        # How much of the timeline ``take_settled`` has handed out, in samples.
        self._settled = 0

    @property
    def caller_seconds(self) -> float:
        return len(self._caller) / 2 / self.sample_rate

    def _now(self) -> int:
        return len(self._caller) // 2

    async def events(self) -> AsyncIterator[TransportEvent]:
        async for event in self._inner.events():
            if isinstance(event, AudioReceived):
                self._caller += event.pcm16
            yield event

    async def send_audio(self, pcm16: bytes) -> None:
        start = max(self._now(), self._assistant_end)
        self._place(start, pcm16)
        self._assistant_end = start + len(pcm16) // 2
        await self._inner.send_audio(pcm16)

    def _place(self, start_sample: int, pcm16: bytes) -> None:
        offset = start_sample * 2
        if len(self._assistant) < offset:
            self._assistant += bytes(offset - len(self._assistant))
        self._assistant[offset : offset + len(pcm16)] = pcm16

    async def clear_audio(self) -> None:
        # What was queued beyond "now" was never heard.
        now = self._now()
        del self._assistant[now * 2 :]
        self._assistant_end = now
        await self._inner.clear_audio()

    async def mark(self, name: str) -> None:
        await self._inner.mark(name)

    async def hang_up(self, reason: str) -> None:
        await self._inner.hang_up(reason)

    async def transfer(self, destination: str) -> None:
        await self._inner.transfer(destination)

    def take_settled(self) -> tuple[bytes, bytes]:
        """Both channels' audio up to "now" not handed out before (caller, assistant).
        What lies before "now" never changes again: the assistant's audio is placed at
        or after it, and a barge-in drops only what lies beyond it."""
        now = self._now()
        start, self._settled = self._settled * 2, now
        caller = bytes(self._caller[start : now * 2])
        assistant = bytes(self._assistant[start : now * 2])
        return caller, assistant.ljust(len(caller), b"\0")

    def to_wav(self) -> bytes:
        """The stereo WAV (caller left, assistant right); CPU work: call it off the loop."""
        frames = stereo_frames(bytes(self._caller), bytes(self._assistant))
        buffer = io.BytesIO()
        with wave.open(buffer, "wb") as wav:
            wav.setnchannels(2)
            wav.setsampwidth(2)
            wav.setframerate(self.sample_rate)
            wav.writeframes(frames)
        return buffer.getvalue()
