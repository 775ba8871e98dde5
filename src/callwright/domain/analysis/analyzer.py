"""What a model makes of a finished call under its ``AnalysisPlan``: a summary,
structured data valid against the plan's schema, and a verdict by the rubric.

Each part is one request to the call's LLMs, tried in order (the assistant's model,
then its fallbacks) until one answers. An answer that does not fit (data invalid
against the schema, a verdict off the rubric) is asked for once more with the reason;
a second misfit is recorded as that part's error and never stored as a value. When no
LLM answers at all, ``AnalysisUnavailable`` is raised: the job retries later.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from jsonschema import Draft202012Validator

from callwright.domain.analysis.plan import (
    DESCRIPTIVE_SCALE,
    LIKERT_SCALE,
    AnalysisPlan,
    Rubric,
    StructuredDataPlan,
    SuccessEvaluationPlan,
)
from callwright.errors import CallwrightError
from callwright.providers.errors import ProviderError, ProviderUnavailable
from callwright.providers.protocols import LLM, ChatMessage, LLMRequest, TextDelta

__all__ = [
    "Analysis",
    "AnalysisStatus",
    "AnalysisUnavailable",
    "analyze",
    "transcript_text",
]

AnalysisStatus = Literal["pending", "completed", "failed", "skipped"]
Verdict = bool | int | str

_MAX_ANSWER_CHARS = 50_000
_OFFLINE_LLM = "local"  # the offline model's provider name (providers.llm.local)
_FENCE = re.compile(r"^```[a-zA-Z]*\s*(.*?)\s*```$", re.DOTALL)


class AnalysisUnavailable(CallwrightError):
    """No LLM of the call could answer (every one failed or timed out); ``retryable``
    is False when retrying cannot help (refused credentials, no local model)."""

    status_code = 502
    code = "analysis_unavailable"

    def __init__(self, message: str, *, retryable: bool, offline_missing: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable
        # Only the offline model was asked, and it is not installed: nothing to run on.
        self.offline_missing = offline_missing


@dataclass(frozen=True, slots=True)
class Analysis:
    """One call's analysis as its record keeps it (``Call.analysis``)."""

    status: AnalysisStatus
    summary: str | None = None
    structured_data: Any = None
    success_evaluation: Verdict | None = None
    error: str | None = None

    def as_record(self) -> dict[str, Any]:
        return {
            "summary": self.summary,
            "structured_data": self.structured_data,
            "success_evaluation": self.success_evaluation,
            "status": self.status,
            "error": self.error,
        }


class _Misfit(ValueError):
    """An answer that does not fit what was asked (the text says why)."""


def transcript_text(messages: Sequence[Mapping[str, Any]]) -> str:
    """The call's transcript, one ``AI:`` / ``User:`` line per message."""
    lines = []
    for message in messages:
        if text := message.get("text"):
            lines.append(f"{'AI' if message.get('role') == 'assistant' else 'User'}: {text}")
    return "\n".join(lines)


async def _ask(llms: Sequence[LLM], messages: Sequence[ChatMessage], timeout_s: float) -> str:
    """The first non-empty answer of ``llms`` in order, each within ``timeout_s``."""
    request = LLMRequest(messages=tuple(messages), temperature=0)
    failures: list[str] = []
    retryable = False
    offline_missing = True
    for llm in llms:
        parts: list[str] = []
        try:
            async with asyncio.timeout(timeout_s):
                async for event in llm.stream(request):
                    if isinstance(event, TextDelta):
                        parts.append(event.text)
        except TimeoutError:
            failures.append(f"{llm.name}: no answer within {timeout_s:g} s")
            retryable, offline_missing = True, False
            continue
        except ProviderError as exc:
            failures.append(str(exc))
            missing = isinstance(exc, ProviderUnavailable) and exc.provider == _OFFLINE_LLM
            offline_missing = offline_missing and missing
            # The offline model missing is not a fault a retry mends.
            retryable = retryable or (exc.retryable and not missing)
            continue
        answer = "".join(parts).strip()
        if answer:
            return answer[:_MAX_ANSWER_CHARS]
        failures.append(f"{llm.name}: an empty answer")
        retryable, offline_missing = True, False
    if not failures:
        raise AnalysisUnavailable("no LLM is configured", retryable=False)
    raise AnalysisUnavailable(
        "no LLM could answer: " + "; ".join(failures),
        retryable=retryable,
        offline_missing=offline_missing,
    )


def _parse_json(answer: str) -> Any:
    text = answer.strip()
    if fenced := _FENCE.match(text):
        text = fenced.group(1)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise _Misfit(f"the answer is not JSON ({exc.msg} at character {exc.pos})") from None


def _structured(plan: StructuredDataPlan) -> tuple[str, Any]:
    instruction = (
        f"{plan.prompt}\n\nJSON Schema:\n{json.dumps(plan.json_schema)}\n\n"
        "Answer with one JSON value valid against the schema, and nothing else."
    )
    validator = Draft202012Validator(plan.json_schema)

    def check(answer: str) -> Any:
        data = _parse_json(answer)
        errors = sorted(validator.iter_errors(data), key=lambda error: list(error.path))
        if errors:
            first = errors[0]
            where = "/".join(str(part) for part in first.absolute_path) or "the top level"
            raise _Misfit(f"invalid against the schema at {where}: {first.message}")
        return data

    return instruction, check


_RUBRIC_ASK: dict[Rubric, str] = {
    "PassFail": "Answer with exactly `true` if the call succeeded, `false` if not.",
    "NumericScale": "Answer with one whole number from 1 (worst) to 10 (best), nothing else.",
    "PercentageScale": "Answer with one whole number from 0 to 100, nothing else.",
    "DescriptiveScale": "Answer with exactly one of: " + ", ".join(DESCRIPTIVE_SCALE) + ".",
    "LikertScale": "Answer with exactly one of: " + ", ".join(LIKERT_SCALE) + ".",
    "Checklist": "List each criterion with whether the call met it.",
    "Matrix": "Rate each criterion at one of several performance levels, as a grid.",
    "AutomaticRubric": "Break the evaluation into criteria and score each.",
}


def _verdict(rubric: Rubric, answer: str) -> Verdict:
    text = answer.strip().strip("`*\"'. ").strip()
    folded = text.casefold()
    if rubric == "PassFail":
        if folded in ("true", "pass", "passed"):
            return True
        if folded in ("false", "fail", "failed"):
            return False
        raise _Misfit("the verdict must be true or false")
    if rubric in ("NumericScale", "PercentageScale"):
        low, high = (1, 10) if rubric == "NumericScale" else (0, 100)
        number = text.removesuffix("%").strip()
        if not number.isdigit() or not low <= int(number) <= high:
            raise _Misfit(f"the verdict must be a whole number from {low} to {high}")
        return int(number)
    if rubric in ("DescriptiveScale", "LikertScale"):
        labels = DESCRIPTIVE_SCALE if rubric == "DescriptiveScale" else LIKERT_SCALE
        for label in labels:
            if folded == label.casefold():
                return label
        raise _Misfit("the verdict must be one of " + ", ".join(labels))
    return answer.strip()


async def _fitting(
    llms: Sequence[LLM], messages: list[ChatMessage], timeout_s: float, check: Any
) -> tuple[Any, str | None]:
    """The checked answer, or None and why the second answer did not fit either."""
    answer = await _ask(llms, messages, timeout_s)
    try:
        return check(answer), None
    except _Misfit as first:
        retry = [
            *messages,
            ChatMessage("assistant", answer),
            ChatMessage("user", f"That answer cannot be used: {first}. Answer again."),
        ]
        answer = await _ask(llms, retry, timeout_s)
        try:
            return check(answer), None
        except _Misfit as second:
            return None, str(second)


def _evaluation(plan: SuccessEvaluationPlan, system_prompt: str | None) -> str:
    prompt = f"{plan.prompt}\n\nRubric: {plan.rubric}. {_RUBRIC_ASK[plan.rubric]}"
    if system_prompt:
        prompt += f"\n\nThe assistant's system prompt:\n{system_prompt}"
    return prompt


async def analyze(
    plan: AnalysisPlan,
    llms: Sequence[LLM],
    messages: Sequence[Mapping[str, Any]],
    *,
    system_prompt: str | None = None,
) -> Analysis:
    """The call's analysis under ``plan``, by ``llms`` (in order) from its transcript
    ``messages`` (the call record's). Raises ``AnalysisUnavailable`` when no LLM
    answered one of the parts."""
    spoken = [message for message in messages if message.get("text")]
    if len(spoken) < plan.min_messages_threshold:
        return Analysis(
            status="skipped",
            error=f"the call has {len(spoken)} transcript message(s); the plan's "
            f"min_messages_threshold is {plan.min_messages_threshold}",
        )
    transcript = ChatMessage("user", "Transcript:\n" + transcript_text(spoken))
    errors: list[str] = []
    summary = None
    if plan.summary_plan.enabled:
        summary = await _ask(
            llms,
            [ChatMessage("system", plan.summary_plan.prompt), transcript],
            plan.summary_plan.timeout_s,
        )
    structured = None
    data_plan = plan.structured_data_plan
    if data_plan is not None and data_plan.enabled:
        instruction, check = _structured(data_plan)
        structured, error = await _fitting(
            llms, [ChatMessage("system", instruction), transcript], data_plan.timeout_s, check
        )
        if error is not None:
            errors.append(f"structured_data: {error}")
    verdict = None
    evaluation = plan.success_evaluation_plan
    if evaluation.enabled:
        verdict, error = await _fitting(
            llms,
            [ChatMessage("system", _evaluation(evaluation, system_prompt)), transcript],
            evaluation.timeout_s,
            lambda answer: _verdict(evaluation.rubric, answer),
        )
        if error is not None:
            errors.append(f"success_evaluation: {error}")
    return Analysis(
        status="failed" if errors else "completed",
        summary=summary,
        structured_data=structured,
        success_evaluation=verdict,
        error="; ".join(errors) or None,
    )
