"""``callwright simulate`` runs a realtime assistant: the command an operator runs, with
a stored Gemini Live assistant and only environment variables pointing Gemini at its
local fake. The simulated caller's line (espeak-ng, in real time) reaches the fake as
PCM16 16 kHz; the model's welcome and answer come back into the transcript."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from callwright.domain.accounts.service import AccountsService
from callwright.domain.assistants.schemas import AssistantIn
from callwright.domain.assistants.service import AssistantService
from callwright.domain.principal import Principal
from callwright.security.crypto import SecretBox
from callwright.store.database import create_engine, create_session_factory
from callwright.store.migrate import upgrade_to_head
from tests.runtime.test_simulate_vendors import (
    CALL_TIMEOUT_S,
    SECRET,
    _clear_vendor_environment,
    _vendor_variables,
)
from tests.server import CALLWRIGHT, environment
from tests.support.optional import require_program
from tests.vendor_fakes import Reply, serve
from tests.vendor_fakes.gemini_live import GeminiLiveFake

require_program("espeak-ng", "the simulated caller speaks with espeak-ng")

KEY = "gemini-simulate-key"
MODEL = "gemini-3.1-flash-live-preview"
WELCOME = "Hello, thanks for calling."
HEARD = "What time do you open tomorrow?"
ANSWER = "We open at nine."


async def _stored(url: str) -> int:
    """A migrated database with an organization and a realtime Gemini assistant."""
    engine = create_engine(url)
    try:
        await upgrade_to_head(engine)
        async with create_session_factory(engine)() as session:
            accounts = AccountsService(session)
            organization = await accounts.create_organization("Realtime")
            user = await accounts.create_user(organization.id, "cli@realtime.test", "pw")
            principal = Principal(organization.id, user.id, "organization", "api_key")
            assistant = AssistantIn(
                name="Gemini desk",
                mode="realtime",
                realtime_settings={"provider": "gemini", "model": MODEL, "voice": "Kore"},
                llm_settings={"welcome_message": WELCOME},
                idle_timeout=None,
            )
            stored = await AssistantService(session, principal, SecretBox(SECRET)).create(assistant)
            await session.commit()
            return stored.row.id
    finally:
        await engine.dispose()


async def test_callwright_simulate_runs_a_realtime_assistant(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _clear_vendor_environment(monkeypatch)
    fake = GeminiLiveFake(api_key=KEY, heard=(HEARD,))
    fake.script(Reply((ANSWER,)))
    url = f"sqlite+aiosqlite:///{tmp_path / 'realtime.db'}"
    assistant_id = await _stored(url)
    script = tmp_path / "call.yaml"
    script.write_text(f"steps:\n  - say: {HEARD}\n  - hangup: true\n")
    async with serve(fake.app) as fake_url:
        env = environment(url, tmp_path / "data", CALLWRIGHT_SECRET_KEY=SECRET)
        for variable in _vendor_variables():  # the served fake's URL and key only
            env.pop(variable, None)
        env.update({"GEMINI_API_KEY": KEY, "CALLWRIGHT_GEMINI_BASE_URL": fake_url})
        process = await asyncio.create_subprocess_exec(
            CALLWRIGHT,
            "simulate",
            str(assistant_id),
            "--script",
            str(script),
            "--json",
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            async with asyncio.timeout(CALL_TIMEOUT_S):  # a hang detector
                stdout, stderr = await process.communicate()
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
    assert process.returncode == 0, stderr.decode()[-5000:]
    call = json.loads(stdout)
    assert call["end_reason"] == "customer-ended-call", call["transcript"]
    said = [(row["role"], row["text"]) for row in call["transcript"]]
    assert said == [("assistant", WELCOME), ("user", HEARD), ("assistant", ANSWER)]
    assert [(c["kind"], c["chosen"]) for c in call["providers"]] == [("realtime", "gemini")]
    assert call["turns"][0]["llm_provider"] == f"gemini:{MODEL}"
    assert fake.last.query == {"key": KEY}
    assert fake.last.input_rates == {16_000}
    assert fake.last.caller_audio_ms > 1000  # the caller's line, in real time
