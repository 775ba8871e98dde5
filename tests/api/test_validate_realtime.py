"""``POST /validate`` on a Gemini Live assistant: its key resolves like every provider's
(the organization's ``gemini`` credential), and settings Gemini would refuse at call
time — OpenAI's default voice and model left in ``realtime_settings`` — fail the check
naming the field, before any call ends on them."""

from __future__ import annotations

import httpx

from tests.api.test_validate import _assistant, _credential, _validate
from tests.conftest import Tenant


async def test_a_gemini_assistant_is_checked_for_its_key_voice_and_model(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    await _credential(client, tenant, provider="gemini", api_key="AIza-org-realtime-0123456789")
    # OpenAI's defaults (voice marin, model gpt-realtime) are not Gemini's.
    assistant = await _assistant(
        client, tenant, mode="realtime", realtime_settings={"provider": "gemini"}
    )
    report = await _validate(client, tenant, assistant["id"])
    realtime = report["providers"][0]
    assert (report["ok"], realtime["kind"], realtime["provider"]) == (False, "realtime", "gemini")
    assert realtime["source"] == "organization"  # the key is there
    assert "realtime_settings.voice 'marin' is not a Gemini Live voice" in realtime["message"]
    assert (
        "realtime_settings.model 'gpt-realtime' is not a Gemini Live model" in (realtime["message"])
    )

    patched = await client.patch(
        f"/api/v1/assistants/{assistant['id']}",
        json={"realtime_settings": {"voice": "Kore", "model": "gemini-3.1-flash-live-preview"}},
        headers=tenant.headers,
    )
    assert patched.status_code == 200, patched.text
    report = await _validate(client, tenant, assistant["id"])
    realtime = report["providers"][0]
    assert (report["ok"], realtime["ok"]) == (True, True)
    assert realtime["message"].startswith("ready")


async def test_filler_words_are_named_as_doing_nothing_in_realtime_mode(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    await _credential(client, tenant, provider="openai", api_key="sk-org-realtime-0123456789")
    assistant = await _assistant(client, tenant, mode="realtime", filler_words_enabled=True)
    realtime = (await _validate(client, tenant, assistant["id"]))["providers"][0]
    assert realtime["ok"] is True  # a note, not a failure
    assert realtime["unsupported"] == ["filler_words_enabled"]
    assert "no effect in realtime mode on openai: filler_words_enabled" in realtime["message"]


async def test_settings_that_cannot_act_in_realtime_mode_are_named_only_once_changed(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    await _credential(client, tenant, provider="openai", api_key="sk-org-realtime-0123456789")
    untouched = await _assistant(client, tenant, mode="realtime")
    realtime = (await _validate(client, tenant, untouched["id"]))["providers"][0]
    assert (realtime["ok"], realtime["unsupported"]) == (True, [])
    assert "no effect" not in realtime["message"]

    changed = await _assistant(
        client,
        tenant,
        mode="realtime",
        llm_provider="anthropic",
        llm_settings={"temperature": 0.9},
        stt_settings={"audio_denoising": True, "keywords": [{"keyword": "Acme"}]},  # both act
        interruption_settings={"false_interruption_timeout": 2},
        error_message="Sorry.",
    )
    realtime = (await _validate(client, tenant, changed["id"]))["providers"][0]
    assert realtime["ok"] is True  # notes, not failures
    assert realtime["unsupported"] == [
        "llm_provider",
        "llm_settings.temperature",
        "interruption_settings.false_interruption_timeout",
        "error_message",
    ]
    assert (
        "no effect in realtime mode on openai: llm_provider, llm_settings.temperature"
        in realtime["message"]
    )


async def test_gemini_is_not_told_its_temperature_does_nothing(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    await _credential(client, tenant, provider="gemini", api_key="AIza-org-realtime-0123456789")
    assistant = await _assistant(
        client,
        tenant,
        mode="realtime",
        realtime_settings={"provider": "gemini", "voice": "Kore", "model": "gemini-live-x"},
        llm_settings={"temperature": 0.9, "frequency_penalty": 0.5},
    )
    realtime = (await _validate(client, tenant, assistant["id"]))["providers"][0]
    assert realtime["unsupported"] == ["llm_settings.frequency_penalty"]
