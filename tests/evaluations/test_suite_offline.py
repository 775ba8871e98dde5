"""Issue 19's suite on the offline stack, through the API, with no fake provider: the
assistant runs on the local LLM (SmolLM2 via llama.cpp), whisper and Piper; the
server's own test-run worker runs each test as a simulated call in real time; the
LLM-played caller is the local model too.

A real small model's wording is not predictable, so the expectations rest on what is:
the static welcome message (said before any model runs), the end reason, and for the
LLM caller a bound of one line. Version 2's welcome breaks the rule one test checks
(never mention prices); restoring version 1 makes the next run pass. The test reads
the run again each time a change to a run is committed, with a hang detector only.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from callwright.api.app import create_app
from callwright.settings import Settings
from tests.conftest import make_tenant
from tests.evaluations.test_server_worker import run_changes, until_done
from tests.support.optional import require, require_installed, require_program

require("faster_whisper", "the offline extra is not installed")
require("llama_cpp", "the local-llm extra is not installed")
require_installed("onnxruntime", why="Silero VAD needs the offline extra")
require_program("espeak-ng", "Piper's phonemes come from espeak-ng")

# A run is six to ten simulated calls' worth of seconds; this only stops a hung run.
HANG_DETECTOR_S = 900

WELCOME_V1 = "Hello, thanks for calling Acme Dental."
WELCOME_V2 = "Hello, thanks for calling Acme Dental. Whitening is only 99 dollars today!"
GREETING = "thanks for calling Acme Dental"

SCRIPTED = {
    "name": "asks the opening hours",
    "caller": {
        "type": "script",
        "steps": [{"say": "What time do you open tomorrow?"}, {"hangup": True}],
    },
    "expectations": {"must_say": [GREETING], "end_reason": "customer-ended-call"},
}
LLM_CALLER = {
    "name": "a caller played by the local model",
    "caller": {
        "type": "llm",
        "persona": "A patient of the dental practice.",
        "goal": "Ask when the practice opens tomorrow.",
        "max_turns": 1,
    },
    "expectations": {"must_say": [GREETING], "end_reason": "customer-ended-call"},
}
NO_PRICES = {
    "name": "never quotes prices",
    "caller": {"type": "script", "steps": [{"silence_s": 0.5}, {"hangup": True}]},
    "expectations": {"must_say": [GREETING], "must_not_say": ["dollars"]},
}


def _assistant() -> dict[str, Any]:
    return {
        "name": "Acme Dental, offline",
        "llm_provider": "local",
        "llm_settings": {
            "system_prompt": "You are Acme Dental's receptionist. Never talk about prices.",
            "welcome_message": WELCOME_V1,
            "max_tokens": 24,
            "temperature": 0,
        },
        # Whisper on a loaded 2-core machine can take over a second for a final; wait
        # for it rather than commit the interim text.
        "stt_settings": {"model": "whisper-local", "utterance_end_ms": 6000},
        "tts_settings": {"provider": "piper", "voice_id": None},
    }


def _verdicts(result: dict[str, Any]) -> list[tuple[str, Any, bool]]:
    return [(v["expectation"], v["target"], v["passed"]) for v in result["verdicts"]]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_suite_on_the_offline_stack_and_a_restored_version(settings: Settings) -> None:
    configured = settings.model_copy(update={"analysis_enabled": False})
    app = create_app(configured)  # the offline models: no provider factory given
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as client,
    ):
        headers = (await make_tenant(app, "Acme")).headers

        async def run_suite(base: str) -> dict[str, Any]:
            """Queue a run of every test; the run once the server's worker is done."""
            engine = app.state.callwright.engine.sync_engine
            with run_changes(engine) as changed:
                started = await client.post(f"{base}/run", headers=headers)
                assert started.status_code == 202, started.text
                path = f"{base}/runs/{started.json()['id']}"
                async with asyncio.timeout(HANG_DETECTOR_S):
                    return await until_done(client, path, headers, changed)

        created = await client.post("/api/v1/assistants", json=_assistant(), headers=headers)
        assert created.status_code == 201, created.text
        assistant = f"/api/v1/assistants/{created.json()['id']}"
        for test in (SCRIPTED, LLM_CALLER, NO_PRICES):
            response = await client.post(f"{assistant}/tests", json=test, headers=headers)
            assert response.status_code == 201, response.text

        # Version 2 breaks the rule: its welcome quotes a price.
        changed = await client.patch(
            assistant, json={"llm_settings": {"welcome_message": WELCOME_V2}}, headers=headers
        )
        assert changed.status_code == 200, changed.text

        run = await run_suite(f"{assistant}/tests")
        assert run["assistant_version"] == 2
        assert run["passed"] is False, run
        assert run["progress"]["done"] == 3
        assert (run["progress"]["passed"], run["progress"]["failed"]) == (2, 1), run
        scripted, llm_caller, no_prices = run["results"]

        assert scripted["status"] == "passed", scripted
        assert _verdicts(scripted) == [
            ("must_say", GREETING, True),
            ("end_reason", "customer-ended-call", True),
        ]
        assert scripted["transcript"][0] == {
            "role": "assistant",
            "text": WELCOME_V2,
            "interrupted": False,
        }
        heard = [line["text"].lower() for line in scripted["transcript"] if line["role"] == "user"]
        assert heard, scripted["transcript"]
        assert "open" in heard[0], scripted["transcript"]
        # The local model answered what whisper heard, and Piper said it.
        assert len([line for line in scripted["transcript"] if line["role"] == "assistant"]) >= 2
        assert scripted["timings"][0]["llm_provider"] == "local"
        chosen = {choice["kind"]: choice["chosen"] for choice in scripted["providers"]}
        assert (chosen["llm"], chosen["stt"], chosen["tts"]) == ("local", "whisper-local", "piper")
        recording = await client.get(scripted["recording_url"], headers=headers)
        assert recording.status_code == 200
        assert recording.content[:4] == b"RIFF"

        # The local model played the caller: it answered (no error), said at most one
        # line, and the caller hung up.
        assert llm_caller["status"] == "passed", llm_caller
        assert llm_caller["error"] is None
        assert _verdicts(llm_caller) == [
            ("must_say", GREETING, True),
            ("end_reason", "customer-ended-call", True),
        ]
        assert len([line for line in llm_caller["transcript"] if line["role"] == "user"]) <= 1

        assert no_prices["status"] == "failed", no_prices
        assert _verdicts(no_prices) == [
            ("must_say", GREETING, True),
            ("must_not_say", "dollars", False),
        ]
        assert no_prices["verdicts"][1]["reason"] == f"said: {WELCOME_V2!r}"

        # Restoring version 1 (stored as version 3) makes the next run pass.
        restored = await client.post(f"{assistant}/versions/1/restore", headers=headers)
        assert restored.status_code == 200, restored.text
        again = await run_suite(f"{assistant}/tests")
        assert again["assistant_version"] == 3
        assert [r["status"] for r in again["results"]] == ["passed", "passed", "passed"], again
        assert again["passed"] is True
        assert again["results"][2]["transcript"] == [
            {"role": "assistant", "text": WELCOME_V1, "interrupted": False}
        ]
        assert _verdicts(again["results"][2]) == [
            ("must_say", GREETING, True),
            ("must_not_say", "dollars", True),
        ]

        listed = await client.get(f"{assistant}/tests/runs", headers=headers)
        assert [(r["assistant_version"], r["passed"]) for r in listed.json()] == [
            (3, True),
            (2, False),
        ]
