"""Verdicts from a simulated call's outcome, one per expectation, each with its reason;
and the LLM-played caller's lines and hang-up."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import pytest

from callwright.clock import VirtualClock
from callwright.domain.evaluations.schemas import Expectations
from callwright.domain.evaluations.verdicts import Outcome, judge, subset_match
from callwright.domain.validation import validate_as
from callwright.errors import ValidationFailed
from callwright.providers.errors import ProviderUnavailable
from callwright.providers.fakes import ScriptedLLM
from callwright.providers.protocols import LLMEvent, LLMRequest
from callwright.runtime.llm_caller import MAX_LINE_TOKENS, LlmCaller

OUTCOME = Outcome(
    transcript=[
        {"role": "assistant", "text": "Hello, Acme."},
        {"role": "user", "text": "Book me in."},
        {"role": "assistant", "text": "Booked for TUESDAY at nine."},
    ],
    tool_calls=[
        {"name": "book", "arguments": {"day": "Tuesday", "slot": {"hour": 9, "minute": 0}}},
        {"name": "note", "arguments": "not json"},
    ],
    end_reason="customer-ended-call",
    turns=[{"turn": 1, "voice_to_voice_ms": 800.0}, {"turn": 2, "voice_to_voice_ms": 1200.5}],
)


def _judge(**expectations: object) -> list[tuple[str, bool, str]]:
    verdicts = judge(Expectations.model_validate(expectations), OUTCOME)
    return [(v["expectation"], v["passed"], v["reason"]) for v in verdicts]


def test_phrases_match_case_insensitively_in_what_the_assistant_said() -> None:
    assert _judge(must_say=["tuesday", "Wednesday"], must_not_say=["book me", "nine"]) == [
        ("must_say", True, "said: 'Booked for TUESDAY at nine.'"),
        ("must_say", False, "the assistant never said 'Wednesday'"),
        # The caller said "Book me": only the assistant's lines count.
        ("must_not_say", True, "the assistant never said 'book me'"),
        ("must_not_say", False, "said: 'Booked for TUESDAY at nine.'"),
    ]


def test_tool_calls_match_by_name_and_argument_subset() -> None:
    verdicts = _judge(
        tool_calls=[
            {"name": "book", "arguments": {"slot": {"hour": 9}}},
            {"name": "book", "arguments": {"day": "Monday"}},
            {"name": "cancel"},
        ]
    )
    assert verdicts[0][:2] == ("tool_call", True)
    assert verdicts[1] == (
        "tool_call",
        False,
        'book was called, never with arguments containing {"day": "Monday"} '
        '(called with {"day": "Tuesday", "slot": {"hour": 9, "minute": 0}})',
    )
    assert verdicts[2] == ("tool_call", False, "cancel was not called (called: book, note)")


def test_end_reason_and_latency() -> None:
    assert _judge(end_reason="customer-ended-call", max_voice_to_voice_ms=1000) == [
        ("end_reason", True, "the call ended with customer-ended-call"),
        ("max_voice_to_voice_ms", False, "the slowest turn (2) took 1200.5 ms"),
    ]
    unanswered = Outcome([], [], "silence-timed-out", [{"turn": 1, "voice_to_voice_ms": None}])
    verdicts = judge(Expectations(max_voice_to_voice_ms=500), unanswered)
    assert verdicts[0]["passed"] is False
    assert verdicts[0]["reason"] == "no turn was answered: nothing to measure"


def test_subset_match() -> None:
    assert subset_match({}, {"a": 1})
    assert subset_match({"a": {"b": [1, 2]}}, {"a": {"b": [1, 2], "c": 3}})
    assert not subset_match({"a": {"b": [1]}}, {"a": {"b": [1, 2]}})
    assert not subset_match({"a": 1}, "a string")


def test_a_test_must_expect_something() -> None:
    with pytest.raises(ValidationFailed) as nothing:
        validate_as(Expectations, {})
    assert "give at least one expectation" in nothing.value.details[0]["message"]
    with pytest.raises(ValidationFailed) as unjudged:
        validate_as(Expectations, {"must_say": ["x"], "judge_model": {"provider": "openai"}})
    assert "judge_model goes with rubric" in unjudged.value.details[0]["message"]


async def test_the_llm_caller_plays_its_persona_and_hangs_up() -> None:
    clock = VirtualClock()
    model = ScriptedLLM(
        clock,
        ["Caller: I need a cleaning.", "Thanks, bye! [HANG UP]"],
        first_token_s=0,
        token_s=0,
    )
    caller = LlmCaller([model], persona="A parent.", goal="Book a cleaning.", max_turns=5)
    opening = [{"role": "assistant", "text": "Hello, Acme."}]
    assert await caller.next_line(opening) == "I need a cleaning."
    system, heard = model.requests[0].messages
    assert model.requests[0].max_tokens == MAX_LINE_TOKENS
    assert "A parent." in (system.content or "")
    assert "Book a cleaning." in (system.content or "")
    # The assistant is the other party: its lines reach the caller's model as "user".
    assert (heard.role, heard.content) == ("user", "Hello, Acme.")
    said = [
        *opening,
        {"role": "user", "text": "I need a cleaning."},
        {"role": "assistant", "text": "Sure."},
    ]
    assert await caller.next_line(said) == "Thanks, bye!"
    assert [m.role for m in model.requests[1].messages] == ["system", "user", "assistant", "user"]
    assert await caller.next_line(said) is None  # it hung up
    assert caller.lines_said == 2
    assert caller.error is None


class _Down:
    name = "down"

    async def stream(self, request: LLMRequest) -> AsyncGenerator[LLMEvent, None]:
        raise ProviderUnavailable("local", "the model is not installed")
        yield  # an async generator


async def test_the_llm_caller_stops_at_max_turns_and_keeps_why_it_could_not_speak() -> None:
    clock = VirtualClock()
    chatty = LlmCaller(
        [ScriptedLLM(clock, ["One.", "Two.", "Three."], first_token_s=0, token_s=0)],
        persona="p",
        goal="g",
        max_turns=2,
    )
    assert [await chatty.next_line([]) for _ in range(3)] == ["One.", "Two.", None]

    silent = LlmCaller([_Down()], persona="p", goal="g", max_turns=2)
    assert await silent.next_line([]) is None
    assert silent.error is not None
    assert "not installed" in silent.error
