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


def _timing_row(timing: TurnTiming) -> dict[str, Any]:
    def ms(later: float | None, earlier: float | None) -> float | None:
        if later is None or earlier is None:
            return None
        return round((later - earlier) * 1000, 1)

    return {
        "turn": timing.turn,
        "llm_provider": timing.llm_provider,
        "endpointing_ms": ms(timing.end_of_turn_at, timing.user_stopped_at),
        "stt_final_ms": ms(timing.stt_final_at, timing.user_stopped_at),
        "llm_first_token_ms": ms(timing.llm_first_token_at, timing.llm_request_at),
        "first_sentence_ms": ms(timing.first_sentence_at, timing.llm_request_at),
        "tts_first_audio_ms": ms(timing.tts_first_audio_at, timing.tts_request_at),
        "first_frame_out_ms": ms(timing.first_frame_out_at, timing.end_of_turn_at),
        "playback_confirmed_ms": ms(timing.playback_confirmed_at, timing.first_frame_out_at),
        "voice_to_voice_ms": ms(timing.first_frame_out_at, timing.user_stopped_at),
    }
