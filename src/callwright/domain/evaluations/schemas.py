"""A test of an assistant: who calls (a script, or an LLM playing a persona) and what
the assistant must do. Also the request that starts a run and the shapes the API
returns for tests, runs and results."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from callwright.domain.analysis.plan import AnalysisModel
from callwright.domain.evaluations.script import Step
from callwright.engine.events import EndReason

__all__ = [
    "Expectations",
    "LlmCaller",
    "RunIn",
    "RunProgress",
    "ScriptedCaller",
    "TestIn",
    "TestPatch",
    "TestResponse",
    "TestResultResponse",
    "TestRunResponse",
    "ToolExpectation",
    "Verdict",
]

Phrase = Annotated[str, Field(min_length=1, max_length=500)]
Name = Annotated[str, Field(min_length=1, max_length=200)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ScriptedCaller(_Strict):
    """The simulator's script (``callwright simulate``): say / interrupt / dtmf /
    silence / hang up, in order."""

    type: Literal["script"]
    variables: dict[str, Any] = Field(default_factory=dict)
    steps: Annotated[list[Step], Field(min_length=1, max_length=200)]


class LlmCaller(_Strict):
    """A caller played by a model: it reads the conversation and says its next line,
    until its goal is met (it hangs up) or ``max_turns`` lines are said. The offline
    model plays it unless ``model`` names another (keys resolve like a call's)."""

    type: Literal["llm"]
    persona: Annotated[str, Field(min_length=1, max_length=4000)]
    goal: Annotated[str, Field(min_length=1, max_length=4000)]
    max_turns: Annotated[int, Field(ge=1, le=30)] = 6
    model: AnalysisModel | None = None
    variables: dict[str, Any] = Field(default_factory=dict)


class ToolExpectation(_Strict):
    """A tool the assistant must call; ``arguments`` must be a subset of its arguments
    (nested objects compared the same way, anything else equal)."""

    name: Annotated[str, Field(min_length=1, max_length=64)]
    arguments: dict[str, Any] = Field(default_factory=dict)


class Expectations(_Strict):
    """What the assistant must do. Phrases match case-insensitively anywhere in what
    the assistant said (``must_say``: in some line; ``must_not_say``: in none)."""

    must_say: Annotated[list[Phrase], Field(max_length=50)] = Field(default_factory=list)
    must_not_say: Annotated[list[Phrase], Field(max_length=50)] = Field(default_factory=list)
    tool_calls: Annotated[list[ToolExpectation], Field(max_length=20)] = Field(default_factory=list)
    end_reason: EndReason | None = None
    max_voice_to_voice_ms: Annotated[float, Field(gt=0, le=60_000)] | None = Field(
        default=None, description="No turn's voice-to-voice latency may exceed this."
    )
    rubric: Annotated[str, Field(min_length=1, max_length=4000)] | None = Field(
        default=None,
        description="Judged pass/fail by a model on the transcript (the analysis "
        "machinery: the assistant's LLM, or judge_model).",
    )
    judge_model: AnalysisModel | None = None

    @model_validator(mode="after")
    def _something_expected(self) -> Expectations:
        if not (
            self.must_say
            or self.must_not_say
            or self.tool_calls
            or self.end_reason
            or self.max_voice_to_voice_ms
            or self.rubric
        ):
            raise ValueError("a test expects something: give at least one expectation")
        if self.judge_model is not None and self.rubric is None:
            raise ValueError("judge_model goes with rubric")
        return self


Caller = Annotated[ScriptedCaller | LlmCaller, Field(discriminator="type")]


class TestIn(_Strict):
    """A test of an assistant."""

    __test__ = False

    name: Name
    caller: Caller
    expectations: Expectations


class TestPatch(_Strict):
    """Fields to replace; each given one is replaced whole."""

    __test__ = False

    name: Name | None = None
    caller: Caller | None = None
    expectations: Expectations | None = None


class TestResponse(BaseModel):
    """A stored test."""

    __test__ = False

    id: int
    assistant_id: int
    name: str
    caller: dict[str, Any]
    expectations: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class RunIn(_Strict):
    """Which tests to run (all of the assistant's when left out), and settings merged
    over the assistant's for this run only (other providers: ``llm_provider``,
    ``llm_provider_config``, ``stt_settings``, ``tts_settings``…), as a call's
    ``assistant_overrides``."""

    test_ids: (
        Annotated[list[Annotated[int, Field(ge=1)]], Field(min_length=1, max_length=100)] | None
    ) = None
    overrides: dict[str, Any] = Field(default_factory=dict)


class Verdict(BaseModel):
    """One expectation's outcome."""

    expectation: Literal[
        "must_say", "must_not_say", "tool_call", "end_reason", "max_voice_to_voice_ms", "rubric"
    ]
    target: Any
    passed: bool
    reason: str


class TestResultResponse(BaseModel):
    """One test's outcome in a run."""

    __test__ = False

    test_id: int | None
    name: str
    status: Literal["pending", "running", "passed", "failed", "error"]
    assistant_version: int
    verdicts: list[Verdict]
    transcript: list[dict[str, Any]]
    tool_calls: list[dict[str, Any]]
    end_reason: str | None
    timings: list[dict[str, Any]]
    providers: list[dict[str, Any]]
    recording_url: str | None
    duration_seconds: float | None
    error: str | None
    started_at: datetime | None
    finished_at: datetime | None


class RunProgress(BaseModel):
    total: int
    pending: int
    running: int
    done: int
    passed: int
    failed: int
    errored: int


class TestRunResponse(BaseModel):
    """A run; ``results`` only on GET of one run."""

    __test__ = False

    id: int
    assistant_id: int
    assistant_version: int
    status: Literal["pending", "running", "done"]
    overrides: dict[str, Any]
    progress: RunProgress
    passed: bool | None = Field(
        description="Whether every test passed; null until the run is done."
    )
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    results: list[TestResultResponse] | None = None
