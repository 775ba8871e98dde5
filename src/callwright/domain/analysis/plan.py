"""``analysis_plan``: what to make of a finished call, in Vapi's shape (``analysisPlan``:
``summaryPlan``, ``structuredDataPlan``, ``successEvaluationPlan``) in snake_case, with a
prompt where Vapi has a list of messages. The transcript (and, for the success
evaluation, the assistant's system prompt) is added to each prompt when it runs.

The model is the assistant's own LLM, with its keys and its fallbacks, unless
``model`` names another (keys for it resolve like a call's: the organization's, then
the server's).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any, Literal

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from pydantic import BaseModel, ConfigDict, Field, field_validator

from callwright.providers.vendors import CATALOG

__all__ = [
    "DESCRIPTIVE_SCALE",
    "LIKERT_SCALE",
    "AnalysisModel",
    "AnalysisPlan",
    "Rubric",
    "StructuredDataPlan",
    "SuccessEvaluationPlan",
    "SummaryPlan",
]

if TYPE_CHECKING:
    LlmProvider = str
else:
    LlmProvider = Literal[CATALOG.names("llm")]

Rubric = Literal[
    "PassFail",
    "NumericScale",
    "DescriptiveScale",
    "PercentageScale",
    "LikertScale",
    "Checklist",
    "Matrix",
    "AutomaticRubric",
]
DESCRIPTIVE_SCALE = ("Excellent", "Good", "Fair", "Poor")
LIKERT_SCALE = ("Strongly Agree", "Agree", "Neutral", "Disagree", "Strongly Disagree")

_MAX_SCHEMA_CHARS = 20_000
Prompt = Annotated[str, Field(min_length=1, max_length=10_000)]
TimeoutSeconds = Annotated[float, Field(gt=0, le=120)]

DEFAULT_SUMMARY_PROMPT = (
    "You are an expert note-taker. You will be given the transcript of a phone call "
    "between an AI assistant and a caller. Summarize the call in two or three sentences."
)
DEFAULT_STRUCTURED_DATA_PROMPT = (
    "You are an expert data extractor. You will be given the transcript of a phone call. "
    "Extract the data the JSON Schema below describes from it."
)
DEFAULT_SUCCESS_EVALUATION_PROMPT = (
    "You are an expert call evaluator. You will be given the transcript of a phone call "
    "and the system prompt of the AI assistant in it. Judge whether the call achieved "
    "what the system prompt sets out to do."
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


class SummaryPlan(_Strict):
    """The call's summary (``analysis.summary``)."""

    enabled: bool = True
    prompt: Prompt = DEFAULT_SUMMARY_PROMPT
    timeout_s: TimeoutSeconds = 30


class StructuredDataPlan(_Strict):
    """Data extracted from the call, valid against ``json_schema``
    (``analysis.structured_data``)."""

    enabled: bool = True
    json_schema: dict[str, Any] = Field(
        description="A JSON Schema (draft 2020-12) the extracted data must be valid against."
    )
    prompt: Prompt = DEFAULT_STRUCTURED_DATA_PROMPT
    timeout_s: TimeoutSeconds = 30

    @field_validator("json_schema")
    @classmethod
    def _a_json_schema(cls, schema: dict[str, Any]) -> dict[str, Any]:
        if len(json.dumps(schema)) > _MAX_SCHEMA_CHARS:
            raise ValueError(f"the schema is longer than {_MAX_SCHEMA_CHARS} characters")
        try:
            Draft202012Validator.check_schema(schema)
        except SchemaError as exc:
            where = "/".join(str(part) for part in exc.absolute_path) or "its top level"
            raise ValueError(f"not a valid JSON Schema at {where}: {exc.message}") from None
        return schema


class SuccessEvaluationPlan(_Strict):
    """A verdict on the call by ``rubric`` (``analysis.success_evaluation``): PassFail a
    boolean, NumericScale 1–10, PercentageScale 0–100, DescriptiveScale and LikertScale
    one of their labels, Checklist / Matrix / AutomaticRubric the evaluator's text."""

    enabled: bool = True
    rubric: Rubric = "PassFail"
    prompt: Prompt = DEFAULT_SUCCESS_EVALUATION_PROMPT
    timeout_s: TimeoutSeconds = 30


class AnalysisModel(_Strict):
    """Another LLM than the assistant's for the analysis (its fallbacks still follow)."""

    provider: LlmProvider
    model: Annotated[str, Field(min_length=1, max_length=200)] | None = None


class AnalysisPlan(_Strict):
    """What to make of each finished call; left out, calls are not analysed."""

    min_messages_threshold: Annotated[int, Field(ge=0, le=1000)] = Field(
        default=2, description="Calls with fewer transcript messages are skipped."
    )
    model: AnalysisModel | None = None
    summary_plan: SummaryPlan = Field(default_factory=SummaryPlan)
    structured_data_plan: StructuredDataPlan | None = None
    success_evaluation_plan: SuccessEvaluationPlan = Field(default_factory=SuccessEvaluationPlan)
