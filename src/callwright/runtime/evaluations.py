"""The test-run worker: runs the queued runs of assistants' test suites
(``domain.evaluations.jobs``) off the request, each test as a simulated call
(``runtime.simulate``) on the providers a real call of the assistant would get (the
run's overrides merged in), and stores per test its transcript, recording, timings
and verdicts.

A run runs the settings of the assistant version it pinned, not the assistant's
current ones. The caller's voice and the LLM playing a caller are resolved like the
call's; the rubric's judge like the post-call analysis's (``analysis_settings``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callwright.clock import Clock, MonotonicClock
from callwright.domain.analysis.plan import AnalysisModel, AnalysisPlan
from callwright.domain.assistants.schemas import AssistantIn
from callwright.domain.assistants.service import StoredAssistant
from callwright.domain.evaluations.jobs import RunClaim, TestRunJobs, subscribe
from callwright.domain.evaluations.schemas import Expectations, LlmCaller, ScriptedCaller
from callwright.domain.evaluations.script import Script
from callwright.domain.evaluations.verdicts import Outcome, judge, judge_rubric
from callwright.domain.knowledge.context import KnowledgeContext
from callwright.domain.knowledge.retrieval import knowledge_retriever_for
from callwright.domain.secrets import decrypt_secrets
from callwright.domain.signing_secrets import signing_secret_for
from callwright.domain.tools.schemas import CustomTool
from callwright.domain.tools.service import tools_for_call
from callwright.domain.validation import validate_as
from callwright.engine.replies import Retriever
from callwright.errors import CallwrightError
from callwright.providers.protocols import LLM, TTS
from callwright.runtime.analysis import analysis_settings
from callwright.runtime.job_loop import poll_jobs
from callwright.runtime.llm_caller import LlmCaller as LlmPlayedCaller
from callwright.runtime.preparation import with_overrides
from callwright.runtime.providers_offline import OfflineProviders
from callwright.runtime.recordings import RecordingStore
from callwright.runtime.registry import ProviderFactory
from callwright.runtime.simulate import Improviser, simulate
from callwright.security.crypto import SecretBox
from callwright.security.outbound import STRICT, OutboundPolicy
from callwright.settings import Settings
from callwright.store.models import Assistant, AssistantVersion, TestResult

__all__ = ["TestRunWorker"]

logger = logging.getLogger(__name__)

_SAMPLE_RATE = 16_000
# The offline model plays a caller unless the test names another.
_DEFAULT_CALLER_MODEL = AnalysisModel(provider="local")
_CALLER = TypeAdapter(ScriptedCaller | LlmCaller)
_HUNG = "the simulated call hung: the assistant did not answer the caller within 60 s"


def _hung(exc: BaseException) -> bool:
    """Whether the simulated caller gave up waiting (raised through the call's group)."""
    if isinstance(exc, BaseExceptionGroup):
        return exc.subgroup(TimeoutError) is not None
    return isinstance(exc, TimeoutError)


@dataclass(frozen=True, slots=True)
class _RunContext:
    """What every test of a run shares: the pinned version's settings (overrides
    merged), its tools and the organization's signing secret."""

    assistant_id: int
    organization_id: int
    document: dict[str, Any]
    tools: list[CustomTool]
    signing_secret: str
    retrieve: Retriever | None


class _RunUnavailable(CallwrightError):
    """The run cannot run at all (its assistant or version is gone)."""

    status_code = 409
    code = "test_run_unavailable"


class TestRunWorker:
    """Runs queued test runs, up to ``test_runs_max_concurrent`` at a time, until
    cancelled; woken by runs committed in this process, else polling. ``clock`` makes
    each simulated call's clock (real time by default; tests pass a virtual one),
    ``caller_voice`` the simulated caller's voice (an offline one by default), and
    ``knowledge`` gives an assistant with a knowledge base its passages."""

    __test__ = False

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        box: SecretBox,
        providers: ProviderFactory,
        offline: OfflineProviders,
        settings: Settings,
        recordings: RecordingStore,
        *,
        outbound: OutboundPolicy = STRICT,
        clock: Callable[[], Clock] = MonotonicClock,
        caller_voice: Callable[[], TTS] | None = None,
        knowledge: KnowledgeContext | None = None,
    ) -> None:
        self._sessions = session_factory
        self._box = box
        self._providers = providers
        self._offline = offline
        self._settings = settings
        self._recordings = recordings
        self._outbound = outbound
        self._clock = clock
        self._caller_voice = caller_voice
        self._knowledge = knowledge
        self._jobs = TestRunJobs(
            session_factory, timedelta(seconds=settings.test_runs_lease_seconds)
        )

    async def run(self) -> None:
        await poll_jobs(
            self.run_due,
            subscribe,
            self._settings.test_runs_poll_interval_seconds,
            "test runs",
            logger,
        )

    async def run_due(self, *, now: datetime | None = None) -> int:
        """Claim the runs waiting (as of ``now``) and run them to their end; how many."""
        claims = await self._jobs.claim(self._settings.test_runs_max_concurrent, now=now)
        async with asyncio.TaskGroup() as group:
            for claim in claims:
                group.create_task(self._run(claim), name=f"test-run-{claim.id}")
        return len(claims)

    async def _run(self, claim: RunClaim) -> None:
        held: RunClaim | None = claim
        try:
            try:
                context = await self._prepare(claim)
            except CallwrightError as exc:
                await self._jobs.finish(claim, error=exc.message)
                return
            while held is not None and (result := await self._jobs.next_result(held)):
                values = await self._test(context, held, result)
                held = await self._jobs.settle(held, result.id, values)
            if held is not None:
                await self._jobs.finish(held)
        except asyncio.CancelledError:
            if held is not None:
                with contextlib.suppress(Exception):
                    await asyncio.shield(self._jobs.release(held))
            raise

    async def _prepare(self, claim: RunClaim) -> _RunContext:
        async with self._sessions() as db:
            row = await db.get(Assistant, claim.assistant_id)
            if row is None or row.deleted_at is not None:
                raise _RunUnavailable("the assistant was deleted")
            version = (
                await db.execute(
                    select(AssistantVersion).where(
                        AssistantVersion.assistant_id == row.id,
                        AssistantVersion.number == claim.assistant_version,
                    )
                )
            ).scalar_one_or_none()
            if version is None:
                raise _RunUnavailable(f"the assistant has no version {claim.assistant_version}")
            plain = decrypt_secrets(dict(version.settings), self._box)
            stored = StoredAssistant(row, validate_as(AssistantIn, plain))
            stored = with_overrides(stored, claim.overrides)
            call_tools = await tools_for_call(db, self._box, stored)
            secret = await signing_secret_for(db, self._settings, row.organization_id)
        retrieve = None
        if self._knowledge is not None:
            retrieve = await knowledge_retriever_for(self._knowledge, stored)
        return _RunContext(
            row.id,
            row.organization_id,
            stored.settings.model_dump(mode="json"),
            call_tools.tools,
            secret,
            retrieve,
        )

    async def _llms(self, context: _RunContext, model: AnalysisModel | None) -> Sequence[LLM]:
        """The LLMs of ``model`` (the assistant's own when None), keys resolved like a
        call's; the fallbacks follow."""
        document = analysis_settings(context.document, AnalysisPlan(model=model))
        providers, _ = await self._providers(document, context.organization_id, _SAMPLE_RATE)
        return providers.llms

    async def _test(
        self, context: _RunContext, claim: RunClaim, result: TestResult
    ) -> dict[str, Any]:
        """Run one test; the values its result row takes."""
        try:
            caller = _CALLER.validate_python(result.definition["caller"])
            expectations = Expectations.model_validate(result.definition["expectations"])
            return await self._simulated(context, claim, result, caller, expectations)
        except Exception as exc:
            if _hung(exc):
                return {"status": "error", "error": _HUNG}
            # A provider that could not be set up, a tool server that broke the call:
            # this test errs, the run goes on.
            logger.exception("test %s of run %s failed to run", result.position, claim.id)
            return {"status": "error", "error": f"{type(exc).__name__}: {exc}"}

    async def _simulated(
        self,
        context: _RunContext,
        claim: RunClaim,
        result: TestResult,
        caller: ScriptedCaller | LlmCaller,
        expectations: Expectations,
    ) -> dict[str, Any]:
        improviser: LlmPlayedCaller | None = None
        if isinstance(caller, LlmCaller):
            improviser = LlmPlayedCaller(
                await self._llms(context, caller.model or _DEFAULT_CALLER_MODEL),
                persona=caller.persona,
                goal=caller.goal,
                max_turns=caller.max_turns,
            )
            script = Script(variables=caller.variables, steps=[])
        else:
            script = Script(variables=caller.variables, steps=caller.steps)
        clock = self._clock()
        started = clock.now()
        played: Improviser | None = improviser
        outcome = await simulate(
            context.document,
            script,
            self._offline,
            assistant_id=context.assistant_id,
            organization_id=context.organization_id,
            providers=self._providers,
            tools=context.tools,
            signing_secret=context.signing_secret,
            retrieve=context.retrieve,
            outbound=self._outbound,
            clock=clock,
            caller_voice=self._caller_voice() if self._caller_voice else None,
            improviser=played,
        )
        duration = round(clock.now() - started, 3)
        verdicts = judge(
            expectations,
            Outcome(outcome.transcript, outcome.tool_calls, outcome.end_reason, outcome.turns),
        )
        if expectations.rubric is not None:
            judges = await self._llms(context, expectations.judge_model)
            verdicts.append(await judge_rubric(expectations.rubric, judges, outcome.transcript))
        recording_key = None
        if outcome.recording_wav:
            recording_key = f"{context.organization_id}/test-runs/{claim.id}/{result.position}.wav"
            await self._recordings.put(recording_key, outcome.recording_wav, "audio/wav")
        error = improviser.error if improviser is not None else None
        passed = all(verdict["passed"] for verdict in verdicts) and error is None
        return {
            "status": "passed" if passed else "failed",
            "transcript": outcome.transcript,
            "tool_calls": outcome.tool_calls,
            "turns": outcome.turns,
            "providers": _providers_json(outcome.to_json()["providers"]),
            "verdicts": verdicts,
            "end_reason": outcome.end_reason,
            "recording_key": recording_key,
            "duration_seconds": duration,
            "error": error,
        }


def _providers_json(choices: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [dict(choice) for choice in choices]
