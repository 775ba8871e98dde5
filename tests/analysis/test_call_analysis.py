"""A browser call against a scripted model, end to end: when it ends, the analysis
job runs in the server's worker and its result is on the call's record and in the
end-of-call report, which waited for it (the report's wait is far longer than the
test allows, so only the analysis releasing it can deliver it in time)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request, Response

from callwright.providers.fakes import speech
from callwright.providers.protocols import LLMRequest
from callwright.settings import Settings
from tests.calls.harness import FakeProviders, listener, phone_lab
from tests.calls.test_web_calls import open_page
from tests.conftest import make_tenant
from tests.vendor_fakes import serve

SCHEMA = {
    "type": "object",
    "properties": {"topic": {"type": "string"}, "answered": {"type": "boolean"}},
    "required": ["topic", "answered"],
}


def _model(structured: list[str]) -> Any:
    """The call's LLM: answers the caller, and each analysis prompt by its kind."""

    def answer(request: LLMRequest) -> str:
        system = request.messages[0].content or ""
        if "expert note-taker" in system:
            return "The caller asked about delivery; the assistant said every day."
        if "expert data extractor" in system:
            return structured.pop(0)
        if "expert call evaluator" in system:
            return "true"
        return "Yes, every day."

    return answer


@asynccontextmanager
async def _webhook_receiver() -> AsyncIterator[tuple[str, asyncio.Queue[dict[str, Any]]]]:
    received: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=100)
    app = FastAPI()

    @app.post("/hook")
    async def hook(request: Request) -> Response:
        received.put_nowait(json.loads(await request.body())["message"])
        return Response(status_code=204)

    sock = listener()
    try:
        async with serve(app, listener=sock) as base:
            yield f"{base}/hook", received
    finally:
        sock.close()


async def _report(received: asyncio.Queue[dict[str, Any]]) -> dict[str, Any]:
    # A guard against a hang, far below the report's own wait (analysis_wait_s).
    async with asyncio.timeout(60):
        message = await received.get()
        while message["type"] != "end-of-call-report":
            message = await received.get()
    return message


@pytest.mark.parametrize(
    ("structured", "expected_data", "status", "error"),
    [
        (
            ['{"topic": "delivery", "answered": true}'],
            {"topic": "delivery", "answered": True},
            "completed",
            None,
        ),
        (
            ['{"topic": "delivery"}', '{"topic": "delivery", "answered": "yes"}'],
            None,
            "failed",
            "structured_data: invalid against the schema at answered: 'yes' is not of type "
            "'boolean'",
        ),
    ],
    ids=["valid", "invalid"],
)
async def test_a_call_ends_with_its_analysis_on_the_record_and_in_the_report(
    settings: Settings,
    structured: list[str],
    expected_data: Any,
    status: str,
    error: str | None,
) -> None:
    providers = FakeProviders(
        utterances=("Do you deliver?",), replies=[_model(list(structured))] * 20
    )
    async with (
        _webhook_receiver() as (hook_url, received),
        phone_lab(settings, providers, analysis_wait_s=600) as lab,
    ):
        tenant = await make_tenant(lab.app)
        async with httpx.AsyncClient(base_url=lab.base_url, headers=tenant.headers) as api:
            created = await api.post(
                "/api/v1/assistants",
                json={
                    "name": "Shop",
                    "llm_settings": {
                        "welcome_message": "Hello.",
                        "system_prompt": "Answer questions about deliveries.",
                    },
                    "idle_timeout": None,
                    "webhook_url": hook_url,
                    "analysis_plan": {"structured_data_plan": {"json_schema": SCHEMA}},
                },
            )
            assert created.status_code == 201, created.text
            started = await api.post(
                "/api/v1/calls/web", json={"assistant_id": created.json()["id"]}
            )
            assert started.status_code == 201, started.text
            call_id = started.json()["call_id"]
            async with open_page(started.json()["ws_url"]) as page:
                await page.wait_for(lambda: page.transcripts("assistant") == ["Hello."])
                await page.send_audio(speech(1.0))
                await page.wait_for(lambda: len(page.transcripts("assistant")) == 2)
                await page.websocket.send(json.dumps({"type": "hangup"}))

            report = await _report(received)
            record = (await api.get(f"/api/v1/calls/{call_id}")).json()

    summary = "The caller asked about delivery; the assistant said every day."
    assert record["analysis"] == {
        "summary": summary,
        "structured_data": expected_data,
        "success_evaluation": True,
        "status": status,
        "error": error,
    }
    assert report["call"]["id"] == str(call_id)
    vapi = {"summary": summary, "successEvaluation": "true"}
    if expected_data is not None:
        vapi["structuredData"] = expected_data
    assert report["analysis"] == vapi
    assert report["summary"] == summary
    # The evaluator saw the transcript and the assistant's system prompt.
    evaluated = [
        request
        for request in (lab.providers.llm.requests if lab.providers.llm else [])
        if "expert call evaluator" in (request.messages[0].content or "")
    ]
    assert "Answer questions about deliveries." in (evaluated[0].messages[0].content or "")
    assert "User: Do you deliver?" in (evaluated[0].messages[1].content or "")
