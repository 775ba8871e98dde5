"""Judging a simulated call against a test's expectations: one verdict per expectation
(pass or fail, and the reason in a sentence). The rubric is judged by a model through
the post-call analysis machinery (``domain.analysis.analyzer``)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from callwright.domain.analysis.analyzer import AnalysisUnavailable, analyze
from callwright.domain.analysis.plan import (
    AnalysisPlan,
    SuccessEvaluationPlan,
    SummaryPlan,
)
from callwright.domain.evaluations.schemas import Expectations, ToolExpectation
from callwright.providers.protocols import LLM

__all__ = ["Outcome", "judge", "judge_rubric", "subset_match"]

_RUBRIC_PROMPT = (
    "You are an expert call evaluator. You will be given the transcript of a test call "
    "between an AI assistant and a simulated caller. Judge whether the assistant met "
    "this criterion:\n\n{rubric}"
)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a simulated call produced, as far as the expectations look."""

    transcript: Sequence[Mapping[str, Any]]
    tool_calls: Sequence[Mapping[str, Any]]
    end_reason: str
    turns: Sequence[Mapping[str, Any]]

    def said(self) -> list[str]:
        return [
            str(line.get("text") or "")
            for line in self.transcript
            if line.get("role") == "assistant"
        ]


def _verdict(kind: str, target: Any, passed: bool, reason: str) -> dict[str, Any]:
    return {"expectation": kind, "target": target, "passed": passed, "reason": reason}


def subset_match(expected: Any, actual: Any) -> bool:
    """Whether ``expected`` is within ``actual``: objects key by key (extra keys in
    ``actual`` allowed), anything else equal."""
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            key in actual and subset_match(value, actual[key]) for key, value in expected.items()
        )
    return bool(expected == actual)


def _tool_verdict(expected: ToolExpectation, calls: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    target = expected.model_dump(mode="json")
    named = [call for call in calls if call.get("name") == expected.name]
    if not named:
        called = sorted({str(call.get("name")) for call in calls}) or ["none"]
        return _verdict(
            "tool_call",
            target,
            False,
            f"{expected.name} was not called (called: {', '.join(called)})",
        )
    for call in named:
        if subset_match(expected.arguments, call.get("arguments")):
            return _verdict(
                "tool_call",
                target,
                True,
                f"{expected.name} was called with "
                f"{json.dumps(call.get('arguments'), sort_keys=True)}",
            )
    seen = "; ".join(json.dumps(call.get("arguments"), sort_keys=True) for call in named)
    return _verdict(
        "tool_call",
        target,
        False,
        f"{expected.name} was called, never with arguments containing "
        f"{json.dumps(expected.arguments, sort_keys=True)} (called with {seen})",
    )


def judge(expectations: Expectations, outcome: Outcome) -> list[dict[str, Any]]:
    """The verdicts of every expectation but the rubric, in the order they are listed."""
    verdicts: list[dict[str, Any]] = []
    said = outcome.said()
    folded = [line.casefold() for line in said]
    for phrase in expectations.must_say:
        hit = next((line for line in said if phrase.casefold() in line.casefold()), None)
        verdicts.append(
            _verdict("must_say", phrase, True, f"said: {hit!r}")
            if hit is not None
            else _verdict("must_say", phrase, False, f"the assistant never said {phrase!r}")
        )
    for phrase in expectations.must_not_say:
        index = next((i for i, line in enumerate(folded) if phrase.casefold() in line), None)
        verdicts.append(
            _verdict("must_not_say", phrase, True, f"the assistant never said {phrase!r}")
            if index is None
            else _verdict("must_not_say", phrase, False, f"said: {said[index]!r}")
        )
    for tool in expectations.tool_calls:
        verdicts.append(_tool_verdict(tool, outcome.tool_calls))
    if expectations.end_reason is not None:
        wanted = expectations.end_reason.value
        verdicts.append(
            _verdict(
                "end_reason",
                wanted,
                outcome.end_reason == wanted,
                f"the call ended with {outcome.end_reason}",
            )
        )
    if expectations.max_voice_to_voice_ms is not None:
        verdicts.append(_latency_verdict(expectations.max_voice_to_voice_ms, outcome.turns))
    return verdicts


def _latency_verdict(limit: float, turns: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    measured = [
        (turn.get("turn"), float(value))
        for turn in turns
        if (value := turn.get("voice_to_voice_ms")) is not None
    ]
    if not measured:
        return _verdict(
            "max_voice_to_voice_ms", limit, False, "no turn was answered: nothing to measure"
        )
    turn, worst = max(measured, key=lambda item: item[1])
    return _verdict(
        "max_voice_to_voice_ms",
        limit,
        worst <= limit,
        f"the slowest turn ({turn}) took {worst:g} ms",
    )


async def judge_rubric(
    rubric: str, llms: Sequence[LLM], transcript: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """The rubric's verdict by ``llms`` (in order) on the transcript: a PassFail success
    evaluation of the analysis machinery, asked again once when the answer misfits."""
    plan = AnalysisPlan(
        min_messages_threshold=0,
        summary_plan=SummaryPlan(enabled=False),
        success_evaluation_plan=SuccessEvaluationPlan(
            rubric="PassFail", prompt=_RUBRIC_PROMPT.format(rubric=rubric)
        ),
    )
    try:
        analysis = await analyze(plan, llms, transcript)
    except AnalysisUnavailable as exc:
        return _verdict("rubric", rubric, False, f"no model could judge it: {exc}")
    if analysis.success_evaluation is True:
        return _verdict("rubric", rubric, True, "the judge model found the criterion met")
    if analysis.success_evaluation is False:
        return _verdict("rubric", rubric, False, "the judge model found the criterion not met")
    return _verdict("rubric", rubric, False, f"the judge model gave no verdict: {analysis.error}")
