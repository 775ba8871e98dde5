"""What a model makes of a transcript under an analysis plan: each part asked once,
misfits asked again once and then recorded as errors, never stored as values; the
LLMs tried in order; no LLM at all is a retryable failure, the offline model missing
a reason to skip."""

from __future__ import annotations

from typing import Any

import pytest

from callwright.clock import MonotonicClock
from callwright.domain.analysis.analyzer import AnalysisUnavailable, analyze
from callwright.domain.analysis.plan import AnalysisPlan
from callwright.providers.errors import ProviderAuthError, ProviderUnavailable
from callwright.providers.fakes import Reply, ScriptedLLM
from callwright.providers.protocols import LLMRequest

TRANSCRIPT = [
    {"role": "assistant", "text": "Hello, Acme dental, how can I help?"},
    {"role": "user", "text": "I'd like a cleaning on Tuesday at ten. My name is Ada."},
    {"role": "assistant", "text": "Booked: Tuesday at ten for Ada."},
]
SCHEMA = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "day": {"enum": ["Monday", "Tuesday"]}},
    "required": ["name", "day"],
    "additionalProperties": False,
}


def _llm(*replies: Reply, name: str = "scripted-llm") -> ScriptedLLM:
    return ScriptedLLM(MonotonicClock(), list(replies), first_token_s=0, token_s=0, name=name)


def _plan(**fields: Any) -> AnalysisPlan:
    return AnalysisPlan.model_validate(fields)


def _system(request: LLMRequest) -> str:
    return request.messages[0].content or ""


async def test_every_part_from_the_transcript() -> None:
    llm = _llm(
        "Ada booked a cleaning for Tuesday at ten.",
        '```json\n{"name": "Ada", "day": "Tuesday"}\n```',
        "true",
    )
    plan = _plan(
        structured_data_plan={"json_schema": SCHEMA, "prompt": "Extract the booking."},
        success_evaluation_plan={"rubric": "PassFail"},
    )

    analysis = await analyze(plan, [llm], TRANSCRIPT, system_prompt="Book dental visits.")

    assert analysis.as_record() == {
        "summary": "Ada booked a cleaning for Tuesday at ten.",
        "structured_data": {"name": "Ada", "day": "Tuesday"},
        "success_evaluation": True,
        "status": "completed",
        "error": None,
    }
    summary, structured, verdict = llm.requests
    assert "Summarize" in _system(summary)
    assert "Tuesday at ten" in (summary.messages[-1].content or "")
    assert "Extract the booking." in _system(structured)
    assert '"additionalProperties": false' in _system(structured)
    assert "PassFail" in _system(verdict)
    assert "Book dental visits." in _system(verdict)


async def test_an_invalid_structured_answer_is_asked_again_once_then_an_error() -> None:
    llm = _llm(
        "A booking.",
        '{"name": "Ada", "day": "Friday"}',
        '{"name": "Ada"}',
        "8",
    )
    plan = _plan(
        structured_data_plan={"json_schema": SCHEMA},
        success_evaluation_plan={"rubric": "NumericScale"},
    )

    analysis = await analyze(plan, [llm], TRANSCRIPT)

    assert analysis.status == "failed"
    assert analysis.structured_data is None  # never stored as valid
    assert analysis.summary == "A booking."
    assert analysis.success_evaluation == 8
    assert analysis.error == (
        "structured_data: invalid against the schema at the top level: 'day' is a required property"
    )
    retry = llm.requests[2]
    assert "cannot be used: invalid against the schema at day" in (retry.messages[-1].content or "")


async def test_a_misfit_put_right_on_the_second_ask_is_kept() -> None:
    llm = _llm("Sounds good, it went well.", "Good")
    plan = _plan(
        summary_plan={"enabled": False},
        success_evaluation_plan={"rubric": "DescriptiveScale"},
    )

    analysis = await analyze(plan, [llm], TRANSCRIPT)

    assert (analysis.status, analysis.success_evaluation, analysis.error) == (
        "completed",
        "Good",
        None,
    )
    assert analysis.summary is None
    assert len(llm.requests) == 2


@pytest.mark.parametrize(
    ("rubric", "answer", "verdict"),
    [
        ("PassFail", "False.", False),
        ("NumericScale", "10", 10),
        ("PercentageScale", "85%", 85),
        ("LikertScale", "strongly agree", "Strongly Agree"),
        ("Checklist", "- greeted: yes\n- booked: yes", "- greeted: yes\n- booked: yes"),
    ],
)
async def test_verdicts_by_rubric(rubric: str, answer: str, verdict: object) -> None:
    plan = _plan(summary_plan={"enabled": False}, success_evaluation_plan={"rubric": rubric})
    analysis = await analyze(plan, [_llm(answer)], TRANSCRIPT)
    assert analysis.success_evaluation == verdict
    assert analysis.status == "completed"


async def test_a_verdict_off_the_scale_twice_is_an_error() -> None:
    plan = _plan(
        summary_plan={"enabled": False}, success_evaluation_plan={"rubric": "NumericScale"}
    )
    analysis = await analyze(plan, [_llm("eleven", "11")], TRANSCRIPT)
    assert analysis.success_evaluation is None
    assert analysis.error == "success_evaluation: the verdict must be a whole number from 1 to 10"


async def test_the_fallback_answers_when_the_first_llm_fails() -> None:
    down = ProviderUnavailable("openai", "503")
    first = _llm(down, down, name="openai:gpt-4o-mini")
    second = _llm("A short call.", "true", name="anthropic:claude")
    analysis = await analyze(_plan(), [first, second], TRANSCRIPT)
    assert (analysis.summary, analysis.success_evaluation) == ("A short call.", True)


async def test_no_llm_answering_is_a_retryable_failure() -> None:
    failing = _llm(ProviderUnavailable("openai", "503"))
    with pytest.raises(AnalysisUnavailable) as raised:
        await analyze(_plan(), [failing], TRANSCRIPT)
    assert raised.value.retryable
    assert not raised.value.offline_missing
    assert "openai: 503" in str(raised.value)

    refused = _llm(ProviderAuthError("openai", "invalid key"))
    with pytest.raises(AnalysisUnavailable) as raised:
        await analyze(_plan(), [refused], TRANSCRIPT)
    assert not raised.value.retryable


async def test_the_offline_model_missing_says_so() -> None:
    local = _llm(ProviderUnavailable("local", "no model: pip install ..."), name="local")
    with pytest.raises(AnalysisUnavailable) as raised:
        await analyze(_plan(), [local], TRANSCRIPT)
    assert raised.value.offline_missing
    assert not raised.value.retryable


async def test_a_call_too_short_is_skipped_without_asking() -> None:
    llm = _llm()
    analysis = await analyze(_plan(min_messages_threshold=4), [llm], TRANSCRIPT)
    assert analysis.status == "skipped"
    assert analysis.error == (
        "the call has 3 transcript message(s); the plan's min_messages_threshold is 4"
    )
    assert llm.requests == []
