"""The post-call analysis worker: runs the due analysis jobs (``domain.analysis.jobs``)
on the call's own LLMs, resolved like a call's (``registry``: the assistant's keys,
its organization's, the server's; offline where none resolves), off the call path.

A job whose LLMs all fail is tried again with back-off; after
``analysis_max_attempts`` the analysis is recorded as failed. When only the offline
model could serve it and it is not installed, the analysis is recorded as skipped,
saying why. Settling a job writes the call's analysis and releases its held
end-of-call report in one transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callwright.domain.analysis import report
from callwright.domain.analysis.analyzer import Analysis, AnalysisUnavailable, analyze
from callwright.domain.analysis.jobs import AnalysisJobs, JobClaim, subscribe
from callwright.domain.analysis.plan import AnalysisPlan
from callwright.domain.assistants.service import load_assistant_for_call
from callwright.domain.calls.queries import load_call
from callwright.domain.calls.repository import write_analysis
from callwright.errors import NotFound
from callwright.observability.logging import bind_call
from callwright.providers.errors import ProviderError, ProviderUnavailable
from callwright.runtime.job_loop import poll_jobs
from callwright.runtime.preparation import with_overrides
from callwright.runtime.registry import ProviderFactory
from callwright.security.crypto import SecretBox
from callwright.settings import Settings
from callwright.store.base import utcnow

__all__ = ["AnalysisWorker", "analysis_settings"]

logger = logging.getLogger(__name__)

_SAMPLE_RATE = 16_000  # the providers' rate is irrelevant to an LLM; any valid one


def analysis_settings(document: dict[str, Any], plan: AnalysisPlan) -> dict[str, Any]:
    """The assistant's settings with the plan's model in place of its LLM: the key and
    endpoint stay only with the vendor they were given for; the fallbacks follow."""
    if plan.model is None:
        return document
    settings = dict(document)
    config = dict(settings.get("llm_provider_config") or {})
    if settings.get("llm_provider") != plan.model.provider:
        config.update(api_key=None, base_url=None, model=None)
    if plan.model.model is not None:
        config["model"] = plan.model.model
    settings.update(llm_provider=plan.model.provider, llm_provider_config=config)
    return settings


class AnalysisWorker:
    """Runs due analysis jobs, up to ``analysis_max_concurrent`` at a time, until
    cancelled; woken by jobs committed in this process, else polling."""

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        box: SecretBox,
        providers: ProviderFactory,
        settings: Settings,
    ) -> None:
        self._sessions = session_factory
        self._box = box
        self._providers = providers
        self._settings = settings
        self._jobs = AnalysisJobs(
            session_factory, timedelta(seconds=settings.analysis_lease_seconds)
        )

    async def run(self) -> None:
        await poll_jobs(
            self.run_due,
            subscribe,
            self._settings.analysis_poll_interval_seconds,
            "analysis jobs",
            logger,
        )

    async def run_due(self, *, now: datetime | None = None) -> int:
        """Claim the due jobs (as of ``now``) and run them to their end; how many."""
        claims = await self._jobs.claim(self._settings.analysis_max_concurrent, now=now)
        async with asyncio.TaskGroup() as group:
            for claim in claims:
                group.create_task(self._run(claim), name=f"analysis-{claim.call_id}")
        return len(claims)

    async def _run(self, claim: JobClaim) -> None:
        with bind_call(claim.call_id):
            last = claim.attempts + 1 >= self._settings.analysis_max_attempts
            try:
                analysis = await self._analyze(claim)
            except AnalysisUnavailable as exc:
                if exc.retryable and not last:
                    await self._postpone(claim, str(exc))
                    return
                analysis = Analysis(
                    status="skipped" if exc.offline_missing else "failed", error=str(exc)
                )
            except Exception as exc:
                # A fault of ours (a stored plan this code cannot read, the database):
                # logged with its traceback, tried again like a model's failure.
                logger.exception("analysis of call %s failed", claim.call_id)
                error = f"the analysis failed: {type(exc).__name__}: {exc}"
                if not last:
                    await self._postpone(claim, error)
                    return
                analysis = Analysis(status="failed", error=error)
            except asyncio.CancelledError:
                with contextlib.suppress(Exception):
                    await asyncio.shield(self._jobs.release(claim))
                raise
            await self._settle(claim, analysis)

    async def _postpone(self, claim: JobClaim, error: str) -> None:
        delay = self._settings.analysis_retry_base_delay_seconds * 2**claim.attempts
        logger.warning("analysis of call %s postponed %.0f s: %s", claim.call_id, delay, error)
        await self._jobs.postpone(claim, error, utcnow() + timedelta(seconds=delay))

    async def _analyze(self, claim: JobClaim) -> Analysis:
        async with self._sessions() as db:
            call = await load_call(db, claim.call_id)
            if call is None or call.assistant_id is None:
                return Analysis(status="skipped", error="the call's assistant was deleted")
            try:
                stored = await load_assistant_for_call(db, self._box, call.assistant_id)
            except NotFound:
                return Analysis(status="skipped", error="the call's assistant was deleted")
            messages = list(call.messages or [])
            organization_id = call.organization_id
            settings = with_overrides(stored, call.overrides).settings
        plan = settings.analysis_plan
        if plan is None:
            return Analysis(status="skipped", error="the assistant has no analysis_plan")
        document = analysis_settings(settings.model_dump(mode="json"), plan)
        try:
            providers, _ = await self._providers(document, organization_id, _SAMPLE_RATE)
        except ProviderError as exc:
            # No LLM could even be set up (the registry falls back to the offline
            # model, which raises when it is not installed).
            missing = isinstance(exc, ProviderUnavailable) and exc.provider == "local"
            raise AnalysisUnavailable(
                f"no LLM could answer: {exc}",
                retryable=exc.retryable and not missing,
                offline_missing=missing,
            ) from exc
        return await analyze(
            plan, providers.llms, messages, system_prompt=settings.llm_settings.system_prompt
        )

    async def _settle(self, claim: JobClaim, analysis: Analysis) -> None:
        record = analysis.as_record()
        async with self._sessions() as db:
            if not await self._jobs.finish(db, claim):
                await db.rollback()  # re-run or taken over meanwhile: theirs counts
                return
            call = await load_call(db, claim.call_id)
            if call is not None:
                write_analysis(call, record)
                ran = analysis.status in ("completed", "failed")
                await report.release(db, call.id, record if ran else None)
            await db.commit()
        logger.info("analysis of call %s: %s", claim.call_id, analysis.status)
