"""What a simulated call (``runtime.simulate``) reports: its transcript, end reason, turn
timings, knowledge used and tool calls, read from the session's events, and the
providers it ran on."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from callwright.domain.knowledge.retrieval import knowledge_record
from callwright.engine.events import (
    AssistantMessage,
    CallEnded,
    KnowledgeUsed,
    SessionEvent,
    ToolCalled,
    TurnTiming,
    UserMessage,
)
from callwright.runtime.recorder import timing_row
from callwright.runtime.registry import ProviderChoice

__all__ = ["SimulationResult", "simulation_result"]


@dataclass
class SimulationResult:
    """A simulated call's outcome, as ``callwright simulate --json`` prints it."""

    transcript: list[dict[str, Any]]
    end_reason: str
    turns: list[dict[str, Any]]
    providers: list[ProviderChoice] = field(default_factory=list)
    # Per user turn with retrieval: the query and the passages given to the model.
    knowledge: list[dict[str, Any]] = field(default_factory=list)
    # The tools the assistant called: {"name", "arguments" (parsed when JSON)}.
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    # Both sides, caller left and assistant right (StereoRecording.to_wav).
    recording_wav: bytes | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "transcript": self.transcript,
            "end_reason": self.end_reason,
            "turns": self.turns,
            "knowledge": self.knowledge,
            "tool_calls": self.tool_calls,
            "providers": [
                {"kind": c.kind, "requested": c.requested, "chosen": c.chosen, "reason": c.reason}
                for c in self.providers
            ],
        }


def simulation_result(
    events: Sequence[SessionEvent], choices: list[ProviderChoice]
) -> SimulationResult:
    """The result of a call that emitted ``events`` on the providers ``choices``
    (no recording: the caller adds it)."""
    transcript: list[dict[str, Any]] = []
    turns: list[dict[str, Any]] = []
    knowledge: list[dict[str, Any]] = []
    tool_calls: list[dict[str, Any]] = []
    end_reason = "unknown"
    for event in events:
        if isinstance(event, UserMessage):
            line = {"role": "user", "text": event.text, "interrupted": False}
            if event.continues and transcript and transcript[-1]["role"] == "user":
                transcript[-1] = line  # the caller went on before hearing an answer
            else:
                transcript.append(line)
        elif isinstance(event, AssistantMessage):
            line = {"role": "assistant", "text": event.text, "interrupted": event.interrupted}
            if event.apology_for is not None:
                line["apology_for"] = event.apology_for  # said because the reply failed
            transcript.append(line)
        elif isinstance(event, TurnTiming) and event.turn > 0:
            turns.append(_timing_row(event))
        elif isinstance(event, CallEnded):
            end_reason = event.reason.value
        elif isinstance(event, KnowledgeUsed):
            knowledge.append(knowledge_record(event))
        elif isinstance(event, ToolCalled):
            tool_calls.append({"name": event.name, "arguments": _arguments(event.arguments)})
    return SimulationResult(transcript, end_reason, turns, choices, knowledge, tool_calls)


def _arguments(raw: str) -> Any:
    try:
        return json.loads(raw) if raw else {}
    except json.JSONDecodeError:
        return raw


_TIMINGS = (
    "turn",
    "llm_provider",
    "endpointing_ms",
    "stt_final_ms",
    "llm_first_token_ms",
    "first_sentence_ms",
    "tts_first_audio_ms",
    "first_frame_out_ms",
    "playback_confirmed_ms",
    "voice_to_voice_ms",
)


def _timing_row(timing: TurnTiming) -> dict[str, Any]:
    """The turn's latencies: its row in the call record's ``turns`` (``timing_row``)
    without the voice and transcriber, fallbacks, token counts and pre-emptions."""
    row = timing_row(timing)
    return {key: row[key] for key in _TIMINGS}
