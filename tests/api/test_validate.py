"""``POST /api/v1/assistants/{id}/validate``: each configured provider, what it needs and
where it comes from; and the voice providers seed 001 names that callwright does not
support, refused with a clear 422 when an assistant is saved."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from callwright.settings import Settings
from tests.calls.harness import FakeTwilioApi
from tests.conftest import Tenant, make_tenant
from tests.support.optional import require_installed

SERVER_DEEPGRAM_KEY = "dg-server-0123456789abcdef"
ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
TWILIO_TOKEN = "f9e8d7c6b5a4f9e8d7c6b5a4f9e8d7c6"


@pytest.fixture
async def twilio() -> AsyncIterator[FakeTwilioApi]:
    fake = FakeTwilioApi(tokens={ACCOUNT_SID: TWILIO_TOKEN})
    async with fake.serving():
        yield fake


@pytest.fixture
def settings(settings: Settings, twilio: FakeTwilioApi) -> Settings:
    """The server has a Deepgram key in its environment, and nothing else; its Twilio
    is the local fake."""
    for name in Settings.model_fields:
        if name.endswith(("_api_key", "_speech_key", "_speech_region")):
            setattr(settings, name, None)
    settings.deepgram_api_key = SERVER_DEEPGRAM_KEY
    settings.twilio_api_base_url = twilio.base_url
    return settings


async def _assistant(client: httpx.AsyncClient, tenant: Tenant, **fields: Any) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/assistants", json={"name": "Front desk", **fields}, headers=tenant.headers
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def _validate(client: httpx.AsyncClient, tenant: Tenant, assistant_id: Any) -> dict[str, Any]:
    response = await client.post(
        f"/api/v1/assistants/{assistant_id}/validate", headers=tenant.headers
    )
    assert response.status_code == 200, response.text
    report: dict[str, Any] = response.json()
    return report


async def _credential(client: httpx.AsyncClient, tenant: Tenant, **body: Any) -> None:
    response = await client.post("/api/v1/credentials", json=body, headers=tenant.headers)
    assert response.status_code == 201, response.text


def _by_kind(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {check["kind"]: check for check in report["providers"]}


async def test_missing_keys_fail_validation_naming_where_to_set_them(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    # Seed 000's defaults: openai, nova-2 (deepgram), elevenlabs.
    assistant = await _assistant(client, tenant)
    report = await _validate(client, tenant, assistant["id"])
    assert report["assistant_id"] == assistant["id"]
    assert report["ok"] is False
    checks = _by_kind(report)
    assert list(checks) == ["llm", "stt", "tts"]
    llm = checks["llm"]
    assert {k: llm[k] for k in ("provider", "field", "ok", "needs", "missing", "source")} == {
        "provider": "openai",
        "field": "llm_provider_config",
        "ok": False,
        "needs": ["api_key"],
        "missing": ["api_key"],
        "source": None,
    }
    assert "llm_provider_config.api_key" in llm["message"]
    assert "an organization credential for 'openai'" in llm["message"]
    assert "OPENAI_API_KEY" in llm["message"]
    assert (checks["stt"]["provider"], checks["stt"]["ok"]) == ("deepgram", True)
    assert checks["stt"]["source"] == "environment"
    assert SERVER_DEEPGRAM_KEY not in str(report)
    tts = checks["tts"]
    assert (tts["provider"], tts["ok"], tts["missing"]) == ("elevenlabs", False, ["api_key"])
    assert "tts_settings.provider_config.api_key" in tts["message"]
    assert "offline voice" in tts["message"]


async def test_keys_from_the_assistant_the_organization_and_the_environment(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    await _credential(client, tenant, provider="anthropic", api_key="sk-ant-0123456789abcdef")
    assistant = await _assistant(
        client,
        tenant,
        llm_provider="anthropic",
        tts_settings={"provider": "cartesia", "provider_config": {"api_key": "sk_car_0123456789"}},
    )
    report = await _validate(client, tenant, assistant["id"])
    assert report["ok"] is True, report
    sources = {check["kind"]: check["source"] for check in report["providers"]}
    assert sources == {"llm": "organization", "stt": "environment", "tts": "assistant"}
    assert all(check["missing"] == [] for check in report["providers"])

    # The organization's credential outranks the server's key once it exists.
    await _credential(client, tenant, provider="deepgram", api_key="dg-org-0123456789abcdef")
    report = await _validate(client, tenant, assistant["id"])
    assert _by_kind(report)["stt"]["source"] == "organization"


async def test_fallbacks_embeddings_and_offline_models_are_reported(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    # Found, not imported: what the check itself looks at.
    require_installed("llama_cpp", "faster_whisper", why="the local-llm and offline extras")
    assistant = await _assistant(
        client,
        tenant,
        llm_provider="local",
        llm_fallback_providers={
            "enabled": True,
            "fallbacks": [
                {"provider": "groq", "api_key": "gsk_0123456789abcdef"},
                {"provider": "custom"},
            ],
        },
        stt_settings={"model": "whisper-local"},
        tts_settings={"provider": "espeak"},
        rag_settings={"enabled": True, "embedding_model": "text-embedding-3-small"},
    )
    report = await _validate(client, tenant, assistant["id"])
    assert report["ok"] is False
    rows = [(c["kind"], c["provider"], c["ok"], c["source"]) for c in report["providers"]]
    assert rows == [
        ("llm", "local", True, "offline"),
        ("llm-fallback", "groq", True, "assistant"),
        ("llm-fallback", "custom", False, None),
        ("stt", "whisper-local", True, "offline"),
        ("tts", "espeak", True, "offline"),
        ("embeddings", "openai", False, None),
    ]
    custom = report["providers"][2]
    assert custom["field"] == "llm_fallback_providers.fallbacks[1]"
    assert custom["missing"] == ["base_url"]
    assert "CALLWRIGHT_CUSTOM_LLM_BASE_URL" in custom["message"]
    assert "skip this fallback" in custom["message"]
    embeddings = report["providers"][5]
    assert "all-MiniLM-L6-v2" in embeddings["message"]

    # Disabled fallbacks are not checked; the offline embedding model needs nothing.
    patched = await client.patch(
        f"/api/v1/assistants/{assistant['id']}",
        json={
            "llm_fallback_providers": {"enabled": False},
            "rag_settings": {"embedding_model": "all-MiniLM-L6-v2"},
        },
        headers=tenant.headers,
    )
    assert patched.status_code == 200, patched.text
    report = await _validate(client, tenant, assistant["id"])
    assert report["ok"] is True, report
    assert [c["kind"] for c in report["providers"]] == ["llm", "stt", "tts", "embeddings"]


async def test_twilio_is_checked_for_each_account_with_numbers(
    client: httpx.AsyncClient, tenant: Tenant, twilio: FakeTwilioApi
) -> None:
    await _credential(
        client, tenant, provider="twilio", account_sid=ACCOUNT_SID, auth_token=TWILIO_TOKEN
    )
    twilio.own("+14155550199", ACCOUNT_SID)
    assistant = await _assistant(
        client,
        tenant,
        llm_provider="local",
        stt_settings={"model": "whisper-local"},
        tts_settings={"provider": "espeak"},
    )
    report = await _validate(client, tenant, assistant["id"])
    assert "telephony" not in _by_kind(report)  # no number rings it yet

    number = await client.post(
        "/api/v1/phone-numbers",
        json={"number": "+14155550199", "assistant_id": assistant["id"]},
        headers=tenant.headers,
    )
    assert number.status_code == 201, number.text
    telephony = _by_kind(await _validate(client, tenant, assistant["id"]))["telephony"]
    assert (telephony["provider"], telephony["ok"], telephony["source"]) == (
        "twilio",
        True,
        "organization",
    )
    assert "+14155550199" in telephony["message"]
    assert ACCOUNT_SID in telephony["message"]

    listed = await client.get("/api/v1/credentials", headers=tenant.headers)
    (twilio,) = listed.json()
    await client.delete(f"/api/v1/credentials/{twilio['id']}", headers=tenant.headers)
    report = await _validate(client, tenant, assistant["id"])
    telephony = _by_kind(report)["telephony"]
    assert (report["ok"], telephony["ok"], telephony["missing"]) == (False, False, ["auth_token"])


async def test_validation_is_scoped_like_the_assistant(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    assistant = await _assistant(client, tenant, external_id="front-desk")
    assert (await _validate(client, tenant, "front-desk"))["assistant_id"] == assistant["id"]
    foreign = await client.post(
        f"/api/v1/assistants/{assistant['id']}/validate", headers=other_tenant.headers
    )
    assert foreign.status_code == 404
    member = await make_tenant(app, "Acme", scope="user", organization_id=tenant.organization_id)
    hidden = await client.post(
        f"/api/v1/assistants/{assistant['id']}/validate", headers=member.headers
    )
    assert hidden.status_code == 404  # a user-scoped key sees only its own assistants
    malformed = await client.post(
        "/api/v1/assistants/not%20an%20id/validate", headers=tenant.headers
    )
    assert malformed.status_code == 400
    assert (await client.post(f"/api/v1/assistants/{assistant['id']}/validate")).status_code == 401


# -- voice providers seed 001 names that callwright does not support -------------------


@pytest.mark.parametrize("provider", ["edmo"])
async def test_an_unsupported_voice_provider_is_refused_on_save(
    client: httpx.AsyncClient, tenant: Tenant, provider: str
) -> None:
    created = await client.post(
        "/api/v1/assistants",
        json={"name": "x", "tts_settings": {"provider": provider}},
        headers=tenant.headers,
    )
    assert created.status_code == 422
    (detail,) = created.json()["details"]
    assert detail["field"] == "tts_settings.provider"
    assert f"voice provider {provider!r} is not supported" in detail["message"]
    assert "elevenlabs, cartesia, deepgram, openai, azure" in detail["message"]

    assistant = await _assistant(client, tenant)
    path = f"/api/v1/assistants/{assistant['id']}"
    for method in ("PATCH", "PUT"):
        body = {"name": "x", "tts_settings": {"provider": provider}}
        updated = await client.request(method, path, json=body, headers=tenant.headers)
        assert updated.status_code == 422, updated.text
        assert provider in updated.json()["details"][0]["message"]

    imported = await client.post(
        "/api/v1/assistants/import?format=vapi",
        json={"name": "x", "voice": {"provider": provider, "voiceId": "v"}},
        headers=tenant.headers,
    )
    assert imported.status_code == 422
    (detail,) = imported.json()["details"]
    assert detail["field"] == "voice.provider"
    assert f"{provider!r} is not supported by callwright" in detail["message"]
    assert "11labs, azure, cartesia, deepgram, playht, openai" in detail["message"]


async def test_validate_says_which_key_goes_to_which_endpoint(
    client: httpx.AsyncClient, tenant: Tenant, settings: Settings
) -> None:
    # Issue 13, finding 1: an assistant naming only an endpoint was told it would get
    # "api_key from environment, base_url from assistant" -- the server's key, sent to it.
    settings.openai_api_key = "sk-server-0123456789abcdef"
    assistant = await _assistant(
        client,
        tenant,
        llm_provider_config={"base_url": "https://collector.example/v1"},
        tts_settings={"provider": "espeak"},
    )
    llm = _by_kind(await _validate(client, tenant, assistant["id"]))["llm"]
    assert (llm["ok"], llm["missing"], llm["source"]) == (False, ["api_key"], None)
    assert llm["endpoint_source"] == "assistant"
    assert "llm_provider_config.base_url is set" in llm["message"]
    assert "llm_provider_config.api_key must be too" in llm["message"]

    # Without its own endpoint the assistant is served by the server's key, which goes
    # to the vendor's endpoint, and the report says so.
    await client.patch(
        f"/api/v1/assistants/{assistant['id']}",
        json={"llm_provider_config": {"base_url": None}},
        headers=tenant.headers,
    )
    report = await _validate(client, tenant, assistant["id"])
    llm = _by_kind(report)["llm"]
    assert (llm["ok"], llm["source"], llm["endpoint_source"]) == (True, "environment", "vendor")
    assert llm["message"] == (
        "ready: requested; api_key from environment, sent to the vendor's endpoint"
    )
    assert "sk-server" not in str(report)


async def test_voice_settings_a_voice_cannot_use_are_named_as_unsupported(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    """tts_settings.stability / latency changed on a voice without an equivalent:
    /validate names them (a note, not a failure); the ones it maps are not named."""
    cartesia = await _assistant(
        client,
        tenant,
        tts_settings={"provider": "cartesia", "stability": 0.9, "latency": 3, "model_id": "x"},
    )
    voice = _by_kind(await _validate(client, tenant, cartesia["id"]))["tts"]
    assert voice["unsupported"] == ["tts_settings.latency", "tts_settings.stability"]
    assert "not supported by cartesia, no effect: tts_settings.latency" in voice["message"]
    playht = await _assistant(
        client, tenant, tts_settings={"provider": "playht", "stability": 0.9, "latency": 3}
    )
    voice = _by_kind(await _validate(client, tenant, playht["id"]))["tts"]
    assert voice["unsupported"] == ["tts_settings.latency"]
    untouched = await _assistant(client, tenant, tts_settings={"provider": "openai"})
    assert _by_kind(await _validate(client, tenant, untouched["id"]))["tts"]["unsupported"] == []


async def test_a_realtime_assistant_is_checked_for_its_model_alone(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    """Its speech-to-speech model serves the whole call; there is no offline one."""
    assistant = await _assistant(client, tenant, mode="realtime")
    report = await _validate(client, tenant, assistant["id"])
    assert report["ok"] is False
    assert [check["kind"] for check in report["providers"]] == ["realtime"]
    realtime = report["providers"][0]
    assert realtime["provider"] == "openai"
    assert realtime["field"] == "realtime_settings"
    assert realtime["missing"] == ["api_key"]
    assert "realtime_settings.api_key" in realtime["message"]
    assert "an organization credential for 'openai'" in realtime["message"]
    assert "no offline realtime model" in realtime["message"]

    # The organization's OpenAI key serves it.
    await _credential(client, tenant, provider="openai", api_key="sk-org-realtime-0123456789")
    realtime = (await _validate(client, tenant, assistant["id"]))["providers"][0]
    assert (realtime["ok"], realtime["source"]) == (True, "organization")

    # The assistant's own key wins, and its endpoint needs that key.
    patched = await client.patch(
        f"/api/v1/assistants/{assistant['id']}",
        json={"realtime_settings": {"api_key": "sk-own-realtime-0123456789"}},
        headers=tenant.headers,
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["realtime_settings"]["api_key"] == "sk-…6789"  # masked
    realtime = (await _validate(client, tenant, assistant["id"]))["providers"][0]
    assert (realtime["ok"], realtime["source"]) == (True, "assistant")
