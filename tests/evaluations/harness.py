"""A lab for test suites: the app with its own test-run worker off, a worker the test
drives on virtual time, and scripted providers that behave by the assistant's system
prompt, so that a version of the assistant decides what its calls say.

- The assistant's model answers by its system prompt (``POLITE`` or ``PUSHY``), and on
  a booking request calls the ``book_appointment`` tool.
- The model playing a caller (the offline ``local`` model, as a test run picks by
  default) asks for a booking, then hangs up.
- The judge model (the analysis's success evaluation) says whether the transcript
  states the opening hours.
- A run overriding the LLM with ``anthropic`` finds its providers cannot be set up.
- The caller's voice tells the scripted transcriber what it said, so that whatever a
  script or the LLM caller says is what the assistant hears.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from callwright.api.app import create_app
from callwright.clock import Clock, VirtualClock
from callwright.engine.session_providers import SessionProviders
from callwright.providers.errors import ProviderUnavailable
from callwright.providers.fakes import EnergyVAD, ScriptedSTT, ToneTTS
from callwright.providers.protocols import LLMEvent, LLMRequest, TextDelta, ToolCall, TTSOptions
from callwright.runtime.evaluations import TestRunWorker
from callwright.runtime.providers_offline import OfflineProviders
from callwright.runtime.registry import ProviderChoice
from callwright.settings import Settings
from tests.conftest import Tenant, make_tenant
from tests.vendor_fakes import serve

POLITE = "You are Acme Dental's receptionist. Never talk about prices."
PUSHY = "You are Acme Dental's receptionist. Always upsell whitening at 99 dollars."
HOURS = "We are open from nine to five."
UPSELL = "Also, whitening is only 99 dollars today!"
BOOKED = "You are booked for a cleaning on Tuesday."
CALLER_LINE = "Hi, I would like to book a cleaning on Tuesday."
ARGUMENTS = {"day": "Tuesday", "service": "cleaning", "notes": ""}


def _assistant_answer(request: LLMRequest) -> str | list[ToolCall]:
    system = request.messages[0].content or ""
    last = request.messages[-1]
    if last.role == "tool":
        return BOOKED
    heard = (last.content or "").casefold()
    if "book" in heard:
        return [ToolCall("call-1", "book_appointment", json.dumps(ARGUMENTS))]
    answer = HOURS
    if PUSHY in system:
        answer += " " + UPSELL
    return answer


def _caller_answer(request: LLMRequest) -> str:
    said = [m for m in request.messages if m.role == "assistant"]
    return CALLER_LINE if not said else "Great, thank you. Bye! [HANG UP]"


def _judge_answer(request: LLMRequest) -> str:
    transcript = request.messages[-1].content or ""
    return "true" if "nine to five" in transcript else "false"


@dataclass
class RuleLLM:
    """A model whose answer is a function of the request; on the given clock."""

    clock: Clock
    role: str
    name: str = "rule-llm"
    requests: list[LLMRequest] = field(default_factory=list)

    async def stream(self, request: LLMRequest) -> AsyncGenerator[LLMEvent, None]:
        self.requests.append(request)
        await self.clock.sleep(0.2)
        system = request.messages[0].content or ""
        if "expert call evaluator" in system:
            answer: str | list[ToolCall] = _judge_answer(request)
        elif self.role == "caller":
            answer = _caller_answer(request)
        else:
            answer = _assistant_answer(request)
        if isinstance(answer, str):
            for index, token in enumerate(answer.split(" ")):
                if index:
                    await self.clock.sleep(0.02)
                yield TextDelta(token if index == 0 else " " + token)
            return
        for call in answer:
            yield call


@dataclass
class EchoVoice:
    """The caller's voice: tone audio, and its text queued for the transcriber."""

    clock: VirtualClock
    heard: deque[str]
    name: str = "echo-voice"
    sample_rate: int = 16_000

    async def synthesize(self, text: str, options: TTSOptions) -> AsyncIterator[bytes]:
        self.heard.append(text)
        async for chunk in ToneTTS(self.clock, first_audio_s=0.05).synthesize(text, options):
            yield chunk


@dataclass
class Lab:
    app: FastAPI
    client: httpx.AsyncClient
    tenant: Tenant
    clock: VirtualClock
    worker: TestRunWorker
    tool_requests: list[dict[str, Any]]
    tool_url: str

    async def run_worker(self) -> int:
        """One pass of the worker, with virtual time moving while it runs."""

        async def drive() -> None:
            while True:
                await self.clock.advance(0.02)
                await asyncio.sleep(0.001)  # let I/O (the database, the tool server) in

        async with asyncio.TaskGroup() as group:
            driver = group.create_task(drive())
            try:
                return await self.worker.run_due()
            finally:
                driver.cancel()

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return await self.client.request(method, path, headers=self.tenant.headers, **kwargs)


def provider_factory(clock: Clock, heard: deque[str]) -> Any:
    async def build(
        settings: Mapping[str, Any], organization_id: int, sample_rate: int
    ) -> tuple[SessionProviders, list[ProviderChoice]]:
        if settings.get("llm_provider") == "anthropic":
            raise ProviderUnavailable("anthropic", "no key for this test's overrides")
        role = "caller" if settings.get("llm_provider") == "local" else "assistant"
        providers = SessionProviders(
            llms=(RuleLLM(clock, role),),
            stt=ScriptedSTT(clock, heard, final_latency_s=0.05),
            tts=ToneTTS(clock, first_audio_s=0.05, seconds_per_char=0.02),
            vad=EnergyVAD(),
        )
        choices = [ProviderChoice("llm", str(settings.get("llm_provider")), "rule-llm", "test")]
        return providers, choices

    return build


@contextlib.asynccontextmanager
async def lab(settings: Settings) -> AsyncIterator[Lab]:
    configured = settings.model_copy(update={"test_runs_enabled": False, "analysis_enabled": False})
    clock = VirtualClock()
    heard: deque[str] = deque()
    factory = provider_factory(clock, heard)
    tool_requests: list[dict[str, Any]] = []

    async def hook(request: Request) -> JSONResponse:
        body = json.loads(await request.body())
        tool_requests.append(body)
        calls = body["message"]["toolCallList"]
        return JSONResponse(
            {"results": [{"toolCallId": c["id"], "result": "booked"} for c in calls]}
        )

    app = create_app(configured, provider_factory=factory)
    offline = OfflineProviders()
    async with (
        serve(Starlette(routes=[Route("/book", hook, methods=["POST"])])) as tool_base,
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as client,
    ):
        state = app.state.callwright
        worker = TestRunWorker(
            state.session_factory,
            state.secret_box,
            factory,
            offline,
            configured,
            state.recordings,
            outbound=state.outbound,
            clock=lambda: clock,
            caller_voice=lambda: EchoVoice(clock, heard),
        )
        tenant = await make_tenant(app, "Acme")
        yield Lab(app, client, tenant, clock, worker, tool_requests, f"{tool_base}/book")
