"""A whole call on the offline models, no keys and no network: the caller's lines are
synthesised by Piper and streamed in real time through Silero VAD and whisper; the
assistant answers with the local LLM and Piper. Run through ``callwright simulate``."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path

from callwright.domain.accounts.service import AccountsService
from callwright.domain.assistants.schemas import AssistantIn
from callwright.domain.assistants.service import AssistantService
from callwright.domain.principal import Principal
from callwright.security.crypto import SecretBox
from callwright.store.database import create_engine, create_session_factory
from callwright.store.migrate import upgrade_to_head
from tests.server import CALLWRIGHT, environment
from tests.support.optional import require

require("faster_whisper", "the offline extra is not installed")
require("llama_cpp", "the local-llm extra is not installed")

SECRET = "simulate-test-secret-key-" + "y" * 30


async def _stored_assistant(url: str) -> int:
    engine = create_engine(url)
    try:
        await upgrade_to_head(engine)
        async with create_session_factory(engine)() as session:
            accounts = AccountsService(session)
            organization = await accounts.create_organization("Sim")
            user = await accounts.create_user(organization.id, "sim@example.test", "pw")
            principal = Principal(organization.id, user.id, "organization", "api_key")
            stored = await AssistantService(session, principal, SecretBox(SECRET)).create(
                AssistantIn(
                    name="Default, with short answers",
                    # Everything else at its default: openai / elevenlabs / nova-2, with no
                    # keys anywhere, so the offline providers serve the call.
                    llm_settings={
                        "welcome_message": "Hello, thanks for calling Acme.",
                        "max_tokens": 32,
                        "temperature": 0,
                    },
                    # Whisper on a loaded 2-core machine can take over a second for a
                    # final; wait for it rather than commit the interim text.
                    stt_settings={"utterance_end_ms": 6000},
                    # Offered to the model as a signed webhook tool (SmolLM2's chat
                    # format cannot call tools, so this only exercises the wiring).
                    tools_settings={
                        "custom_tools": [
                            {
                                "type": "function",
                                "function": {"name": "opening_hours", "description": "Hours."},
                                "server": {"url": "https://tools.example.com/hours"},
                            }
                        ]
                    },
                )
            )
            await session.commit()
            return stored.row.id
    finally:
        await engine.dispose()


def test_simulate_holds_a_three_turn_conversation_with_a_barge_in(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'sim.db'}"
    assistant_id = asyncio.run(_stored_assistant(url))
    script = tmp_path / "script.yaml"
    script.write_text(
        "steps:\n"
        "  - say: What time do you open tomorrow?\n"
        "  - say: I would like to book a table for two.\n"
        "  - say: Sorry, can you repeat that please?\n"
        "    interrupt_after_s: 0.8\n"
        "  - hangup: true\n"
    )
    env = environment(url, tmp_path / "data", CALLWRIGHT_SECRET_KEY=SECRET)
    result = subprocess.run(
        [CALLWRIGHT, "simulate", str(assistant_id), "--script", str(script), "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-5000:]
    call = json.loads(result.stdout)

    user_lines = [row["text"].lower() for row in call["transcript"] if row["role"] == "user"]
    assert len(user_lines) >= 3, call["transcript"]
    assert "open tomorrow" in user_lines[0]
    assert "book a table" in user_lines[1]
    assistant_rows = [row for row in call["transcript"] if row["role"] == "assistant"]
    assert assistant_rows[0]["text"] == "Hello, thanks for calling Acme."
    assert len(assistant_rows) >= 3
    assert any(row["interrupted"] for row in assistant_rows), call["transcript"]
    assert call["end_reason"] == "customer-ended-call"
    assert len(call["turns"]) >= 3
    for turn in call["turns"][:2]:
        assert turn["first_frame_out_ms"] is not None
        assert turn["llm_provider"] == "local"
    kinds = {choice["kind"]: choice for choice in call["providers"]}
    assert kinds["llm"]["requested"] == "openai"
    assert kinds["llm"]["chosen"] == "local"
