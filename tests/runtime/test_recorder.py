"""The call record of a call whose providers failed: the apology marked as one, who
served each turn, the transcriber or voice that was replaced, tokens by the LLM that
produced them, and the process metrics counting each failure."""

from __future__ import annotations

from typing import Any

from callwright.engine.events import (
    AssistantMessage,
    CallEnded,
    EndReason,
    LlmError,
    ProviderFailed,
    TurnTiming,
    UserMessage,
)
from callwright.observability.metrics import default_metrics
from callwright.runtime.call_metrics import observe_finished_call
from callwright.runtime.recorder import CallRecorder

SORRY = "Sorry, could you say that again?"


def _failed_call() -> tuple[CallRecorder, list[tuple[str, dict[str, Any]]]]:
    notified: list[tuple[str, dict[str, Any]]] = []
    recorder = CallRecorder(100.0, notify=lambda kind, data: notified.append((kind, data)))
    recorder(UserMessage("Hello?", 101.0))
    recorder(
        TurnTiming(
            1,
            llm_errors=[LlmError("openai:gpt-4o-mini", "HTTP 500")],
            stt_provider="deepgram",
        )
    )
    recorder(AssistantMessage(SORRY, SORRY, False, 102.0, apology_for="openai: HTTP 500"))
    recorder(ProviderFailed("tts", "elevenlabs", "HTTP 503", "piper", 103.5))
    recorder(UserMessage("Are you there?", 104.0))
    recorder(
        TurnTiming(
            2,
            llm_provider="anthropic:claude-sonnet-4-5",
            llm_errors=[LlmError("openai:gpt-4o-mini", "no first token within 3.0 s")],
            tts_provider="piper",
            stt_provider="deepgram",
            prompt_tokens=30,
            completion_tokens=5,
        )
    )
    recorder(AssistantMessage("Yes.", "Yes.", False, 105.0))
    recorder(CallEnded(EndReason.CUSTOMER_ENDED_CALL, 106.0, None))
    return recorder, notified


def test_the_apology_is_marked_as_one_in_the_transcript() -> None:
    recorder, notified = _failed_call()
    apology, answer = (line for line in recorder.messages if line["role"] == "assistant")
    assert apology == {
        "role": "assistant",
        "text": SORRY,
        "seconds_from_start": 2.0,
        "interrupted": False,
        "apology_for": "openai: HTTP 500",
    }
    assert "apology_for" not in answer
    assert ("transcript", apology) in notified  # the live transcript webhook carries it too


def test_each_turn_names_who_served_it_and_what_failed() -> None:
    recorder, _ = _failed_call()
    first, second = recorder.turns
    assert (first["llm_provider"], first["stt_provider"]) == (None, "deepgram")
    assert first["llm_errors"] == [{"provider": "openai:gpt-4o-mini", "error": "HTTP 500"}]
    assert (second["llm_provider"], second["tts_provider"]) == (
        "anthropic:claude-sonnet-4-5",
        "piper",
    )
    assert recorder.failovers == [
        {
            "kind": "tts",
            "requested": "elevenlabs",
            "chosen": "piper",
            "reason": "failed during the call: HTTP 503",
            "seconds_from_start": 3.5,
        }
    ]


def test_tokens_are_counted_for_the_llm_that_produced_them() -> None:
    recorder, _ = _failed_call()
    usage = recorder.usage(stt_seconds=4.0, llm="openai", stt="deepgram", tts="elevenlabs")
    assert usage["llm"]["by_provider"] == {
        "anthropic:claude-sonnet-4-5": {"prompt_tokens": 30, "completion_tokens": 5}
    }
    assert (usage["llm"]["prompt_tokens"], usage["llm"]["completion_tokens"]) == (30, 5)


def _count(name: str, **labels: str) -> float:
    value = default_metrics().registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


def test_the_metrics_count_every_failed_provider_and_each_fallback_answer() -> None:
    recorder, _ = _failed_call()
    errors = "callwright_provider_errors_total"
    fallbacks = "callwright_llm_fallbacks_total"
    llm_errors = _count(errors, kind="llm", provider="openai:gpt-4o-mini")
    tts_errors = _count(errors, kind="tts", provider="elevenlabs")
    moved = {"from_provider": "openai:gpt-4o-mini", "to_provider": "anthropic:claude-sonnet-4-5"}
    moved_before = _count(fallbacks, **moved)
    observe_finished_call("webCall", recorder, "openai:gpt-4o-mini")
    assert _count(errors, kind="llm", provider="openai:gpt-4o-mini") == llm_errors + 2
    assert _count(errors, kind="tts", provider="elevenlabs") == tts_errors + 1
    assert _count(fallbacks, **moved) == moved_before + 1


def test_a_turn_the_lead_llm_answered_is_no_fallback() -> None:
    """Two models of one vendor: the lead's own answer must not count as a fallback
    (when both were called "openai", a fallback's answer did not count either)."""
    recorder = CallRecorder(started_at=0.0)
    recorder(TurnTiming(1, llm_provider="openai:gpt-4o-mini"))
    recorder(TurnTiming(2, llm_provider="openai:gpt-4o"))
    fallbacks = "callwright_llm_fallbacks_total"
    lead_to_lead = {"from_provider": "openai:gpt-4o-mini", "to_provider": "openai:gpt-4o-mini"}
    to_other = {"from_provider": "openai:gpt-4o-mini", "to_provider": "openai:gpt-4o"}
    before = _count(fallbacks, **lead_to_lead), _count(fallbacks, **to_other)
    observe_finished_call("webCall", recorder, "openai:gpt-4o-mini")
    assert _count(fallbacks, **lead_to_lead) == before[0]
    assert _count(fallbacks, **to_other) == before[1] + 1
