"""A simulated call on each cloud vendor in turn, every one pointed at its local fake by
the base-URL settings alone (environment variables, as an operator would set them):
no code knows about the fakes. The caller's line is real speech (espeak-ng) streamed in
real time; the fakes answer with scripted transcripts, replies and tones. Each call
must reach the end the caller chose, with the vendor named in the provider choices
and the vendor's fake having received the call's requests with the resolved key.

Keys come from all three places a call looks: the LLM's from the organization's
stored credential, the transcriber's from the server's environment, the voice's from
the assistant's own ``tts_settings.provider_config``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pydantic import AliasChoices

from callwright.domain.accounts.service import AccountsService
from callwright.domain.assistants.schemas import AssistantIn
from callwright.domain.assistants.service import AssistantService
from callwright.domain.credentials.service import CredentialService
from callwright.domain.evaluations.script import Script
from callwright.domain.principal import Principal
from callwright.runtime.providers_cloud import CloudProviders
from callwright.runtime.providers_offline import OfflineProviders
from callwright.runtime.registry import cloud_provider_factory
from callwright.runtime.simulate import simulate
from callwright.runtime.simulation_result import SimulationResult
from callwright.security.crypto import SecretBox
from callwright.settings import Settings
from callwright.store.database import create_engine, create_session_factory
from callwright.store.migrate import upgrade_to_head
from tests.providers.stt.support import serve
from tests.server import CALLWRIGHT, environment
from tests.support.optional import require, require_program
from tests.vendor_fakes import Reply
from tests.vendor_fakes.anthropic_messages import FakeAnthropic
from tests.vendor_fakes.assemblyai_stream import AssemblyAIStreamFake
from tests.vendor_fakes.azure_tts import AzureTTSFake
from tests.vendor_fakes.cartesia import CartesiaFake
from tests.vendor_fakes.deepgram_listen import DeepgramListenFake
from tests.vendor_fakes.deepgram_speak import DeepgramSpeakFake
from tests.vendor_fakes.elevenlabs import ElevenLabsFake
from tests.vendor_fakes.gemini import FakeGemini
from tests.vendor_fakes.openai_audio import OpenAIAudioFake
from tests.vendor_fakes.openai_chat import FakeOpenAI
from tests.vendor_fakes.openai_speech import OpenAISpeechFake
from tests.vendor_fakes.playht import USER_ID, PlayHTFake

require("onnxruntime", "Silero VAD needs the offline extra")
require_program("espeak-ng", "the simulated caller speaks with espeak-ng")

LINE = "What time do you open tomorrow?"
WELCOME = "Hello, thanks for calling."
ANSWER = ("We open ", "at nine.")
ORGANIZATION_ID = 7
CALL_TIMEOUT_S = 120  # a hang detector; a call takes a few seconds


@dataclass
class Fake:
    """One vendor's fake: the ASGI app, its record of requests, the environment that
    points the vendor at it (``{url}`` is where it is served) and the key it wants."""

    app: Any
    key: str
    environment: Mapping[str, str]
    requests: Callable[[], list[str]]  # what it received, as text (headers and bodies)


def _llm_fake(vendor: str) -> Fake:
    key = f"key-{vendor}-llm"
    if vendor == "anthropic":
        fake: Any = FakeAnthropic(key)
        url = "{url}"
    elif vendor == "gemini":
        fake = FakeGemini(key)
        url = "{url}"
    elif vendor == "groq":
        fake = FakeOpenAI(key, prefix="/openai/v1")
        url = "{url}/openai/v1"
    else:  # openai, xai, custom: OpenAI's protocol under /v1
        fake = FakeOpenAI(key)
        url = "{url}/v1"
    fake.script(Reply(ANSWER))
    setting = (
        "CALLWRIGHT_CUSTOM_LLM_BASE_URL"
        if vendor == "custom"
        else f"CALLWRIGHT_{vendor.upper()}_BASE_URL"
    )
    environment = {setting: url}
    if vendor == "custom":  # no organization credential exists for a custom endpoint
        environment["CALLWRIGHT_CUSTOM_LLM_API_KEY"] = key

    def requests() -> list[str]:
        return [json.dumps([r.path, r.headers, r.query, r.body]) for r in fake.received]

    return Fake(fake, key, environment, requests)


def _stt_fake(vendor: str) -> Fake:
    key = f"key-{vendor}-stt"
    if vendor == "deepgram":
        deepgram = DeepgramListenFake(api_key=key, script=[LINE])

        def requests() -> list[str]:
            return [
                json.dumps([s.headers, s.query, s.control, s.audio_bytes])
                for s in deepgram.sessions
            ]

        return Fake(
            deepgram.app,
            key,
            {"CALLWRIGHT_DEEPGRAM_BASE_URL": "{url}", "DEEPGRAM_API_KEY": key},
            requests,
        )
    if vendor == "assemblyai":
        assemblyai = AssemblyAIStreamFake(api_key=key, script=[LINE])

        def requests() -> list[str]:
            return [
                json.dumps([s.headers, s.query, s.control, len(s.chunk_ms)])
                for s in assemblyai.sessions
            ]

        return Fake(
            assemblyai.app,
            key,
            {"CALLWRIGHT_ASSEMBLYAI_BASE_URL": "{url}", "ASSEMBLYAI_API_KEY": key},
            requests,
        )
    whisper = OpenAIAudioFake(api_key=key, script=(LINE,))

    def uploads() -> list[str]:
        return [json.dumps([r.headers, r.fields, len(r.audio)]) for r in whisper.received]

    return Fake(
        whisper.app,
        key,
        {"CALLWRIGHT_OPENAI_BASE_URL": "{url}/v1", "OPENAI_API_KEY": key},
        uploads,
    )


_TTS_FAKES: dict[str, tuple[Callable[[str], Any], str, str]] = {
    # vendor: (fake, base-URL variable, base URL)
    "elevenlabs": (
        lambda key: ElevenLabsFake(api_key=key),
        "CALLWRIGHT_ELEVENLABS_BASE_URL",
        "{url}",
    ),
    "cartesia": (lambda key: CartesiaFake(api_key=key), "CALLWRIGHT_CARTESIA_BASE_URL", "{url}"),
    "deepgram": (
        lambda key: DeepgramSpeakFake(api_key=key),
        "CALLWRIGHT_DEEPGRAM_BASE_URL",
        "{url}",
    ),
    "openai": (lambda key: OpenAISpeechFake(api_key=key), "CALLWRIGHT_OPENAI_BASE_URL", "{url}/v1"),
    "azure": (lambda key: AzureTTSFake(api_key=key), "CALLWRIGHT_AZURE_TTS_BASE_URL", "{url}"),
    "playht": (lambda key: PlayHTFake(api_key=key), "CALLWRIGHT_PLAYHT_BASE_URL", "{url}"),
}
_VOICES = {
    "elevenlabs": "rachel",
    "cartesia": "a0e99841-438c-4a64-b679-ae501e7d6091",
    "deepgram": "aura-2-thalia-en",
    "openai": "alloy",
    "azure": "en-US-JennyNeural",
    "playht": "s3://voice-cloning-zero-shot/d9ff78ba-d016-47f6-b0ef-dd630f59414e/female-cs/manifest.json",
}
# What a voice's account needs beside its key, from the same place (the assistant).
_TTS_IDENTITY = {"playht": {"user_id": USER_ID}}
_MODELS = {
    "openai": "gpt-4o-mini",
    "anthropic": "claude-haiku-4-5",
    "gemini": "gemini-2.5-flash",
    "groq": "llama-3.3-70b-versatile",
    "xai": "grok-3-mini",
    "custom": "smollm2",
}
_STT_MODELS = {"deepgram": "nova-2", "assemblyai": "universal-streaming", "whisper": "whisper-1"}


def _tts_fake(vendor: str) -> Fake:
    key = f"key-{vendor}-tts"
    make, variable, url = _TTS_FAKES[vendor]
    fake = make(key)

    def requests() -> list[str]:
        return [
            json.dumps([r.path, r.query, r.headers, r.messages], default=repr) + r.body.decode()
            for r in fake.received
        ]

    return Fake(fake, key, {variable: url}, requests)


# Every vendor of every kind at least once, and never two fakes behind one base URL.
COMBINATIONS = [
    ("openai", "deepgram", "elevenlabs"),
    ("anthropic", "assemblyai", "cartesia"),
    ("gemini", "whisper", "deepgram"),
    ("groq", "deepgram", "azure"),
    ("xai", "assemblyai", "openai"),
    ("custom", "deepgram", "elevenlabs"),
    ("anthropic", "deepgram", "playht"),
]


def _assistant(llm: str, stt: str, tts: str, tts_key: str) -> AssistantIn:
    return AssistantIn(
        name=f"{llm}/{stt}/{tts}",
        llm_provider=llm,
        llm_provider_config={"model": _MODELS[llm]},
        llm_settings={"welcome_message": WELCOME, "max_tokens": 64},
        stt_settings={"model": _STT_MODELS[stt]},
        tts_settings={
            "provider": tts,
            "voice_id": _VOICES[tts],
            "provider_config": {"api_key": tts_key, **_TTS_IDENTITY.get(tts, {})},
        },
    )


def _vendor_variables() -> list[str]:
    """Every environment variable a vendor's key or endpoint is read from."""
    variables = []
    for name, info in Settings.model_fields.items():
        if not name.endswith(("_api_key", "_base_url", "_speech_key", "_speech_region")):
            continue
        alias = info.validation_alias
        names = alias.choices if isinstance(alias, AliasChoices) else [f"CALLWRIGHT_{name.upper()}"]
        variables += [str(variable) for variable in names]
    return variables


def _clear_vendor_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No key or endpoint from the machine running the tests may leak into a call."""
    for variable in _vendor_variables():
        monkeypatch.delenv(variable, raising=False)


@contextlib.asynccontextmanager
async def _served(
    fakes: list[Fake], monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[dict[str, str]]:
    """Serve the fakes and point the vendors at them through the environment; yields
    the variables set."""
    variables: dict[str, str] = {}
    async with contextlib.AsyncExitStack() as stack:
        for fake in fakes:
            url = await stack.enter_async_context(serve(fake.app))
            for variable, value in fake.environment.items():
                variables[variable] = value.format(url=url)
                monkeypatch.setenv(variable, variables[variable])
        yield variables


async def _call(
    document: dict[str, Any], credentials: dict[str, dict[str, str]]
) -> SimulationResult:
    offline, cloud = OfflineProviders(), CloudProviders()

    async def stored(organization_id: int) -> Mapping[str, Mapping[str, Any]]:
        assert organization_id == ORGANIZATION_ID
        return credentials

    # Read from the environment now, as a server process does at start.
    factory = cloud_provider_factory(
        server=Settings(), offline=offline, cloud=cloud, credentials=stored
    )
    script = Script.model_validate({"steps": [{"say": LINE}, {"hangup": True}]})
    try:
        async with asyncio.timeout(CALL_TIMEOUT_S):
            return await simulate(
                document, script, offline, providers=factory, organization_id=ORGANIZATION_ID
            )
    finally:
        await cloud.aclose()
        await offline.aclose()


@pytest.mark.parametrize(
    ("llm", "stt", "tts"), COMBINATIONS, ids=["-".join(combination) for combination in COMBINATIONS]
)
async def test_a_simulated_call_runs_on_each_vendor(
    llm: str, stt: str, tts: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _clear_vendor_environment(monkeypatch)
    llm_fake, stt_fake, tts_fake = _llm_fake(llm), _stt_fake(stt), _tts_fake(tts)
    document = _assistant(llm, stt, tts, tts_fake.key).model_dump(mode="json")
    credentials = {} if llm == "custom" else {llm: {"api_key": llm_fake.key}}

    async with _served([llm_fake, stt_fake, tts_fake], monkeypatch):
        result = await _call(document, credentials)

    assert result.end_reason == "customer-ended-call", result.transcript
    said = [(row["role"], row["text"]) for row in result.transcript]
    assert said[0] == ("assistant", WELCOME)
    assert ("user", LINE) in said
    assert ("assistant", "".join(ANSWER)) in said[said.index(("user", LINE)) :]

    chosen = {choice.kind: choice for choice in result.providers}
    assert (chosen["llm"].chosen, chosen["stt"].chosen, chosen["tts"].chosen) == (llm, stt, tts)
    llm_source = "environment" if llm == "custom" else "organization"
    assert f"api_key from {llm_source}" in chosen["llm"].reason
    assert "base_url from environment" in chosen["llm"].reason
    assert "api_key from environment, sent to base_url from environment" in chosen["stt"].reason
    assert "api_key from assistant, sent to base_url from environment" in chosen["tts"].reason
    for choice in result.providers:  # the call record never holds a key
        assert not any(fake.key in choice.reason for fake in (llm_fake, stt_fake, tts_fake))

    # Each fake heard the call, with the key resolved for it.
    llm_requests = llm_fake.requests()
    assert llm_requests
    assert all(llm_fake.key in request for request in llm_requests)
    assert any(LINE in request for request in llm_requests)
    stt_requests = stt_fake.requests()
    assert stt_requests
    assert all(stt_fake.key in request for request in stt_requests)
    tts_requests = tts_fake.requests()
    assert tts_requests
    assert all(tts_fake.key in request for request in tts_requests)
    assert any("nine" in request for request in tts_requests)


SECRET = "simulate-vendors-secret-key-" + "z" * 30


async def _stored(url: str, assistant: AssistantIn, llm: str, llm_key: str) -> int:
    """A migrated database with an organization, its LLM credential and the assistant."""
    engine = create_engine(url)
    try:
        await upgrade_to_head(engine)
        async with create_session_factory(engine)() as session:
            accounts = AccountsService(session)
            organization = await accounts.create_organization("Vendors")
            user = await accounts.create_user(organization.id, "cli@vendors.test", "pw")
            principal = Principal(organization.id, user.id, "organization", "api_key")
            box = SecretBox(SECRET)
            await CredentialService(session, principal, box, Settings()).create(
                {"provider": llm, "api_key": llm_key}
            )
            stored = await AssistantService(session, principal, box).create(assistant)
            await session.commit()
            return stored.row.id
    finally:
        await engine.dispose()


async def test_callwright_simulate_reads_stored_credentials_and_base_urls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The command an operator runs: only environment variables and stored records."""
    _clear_vendor_environment(monkeypatch)
    llm_fake, stt_fake, tts_fake = (
        _llm_fake("anthropic"),
        _stt_fake("deepgram"),
        _tts_fake("cartesia"),
    )
    url = f"sqlite+aiosqlite:///{tmp_path / 'vendors.db'}"
    assistant = _assistant("anthropic", "deepgram", "cartesia", tts_fake.key)
    assistant_id = await _stored(url, assistant, "anthropic", llm_fake.key)
    script = tmp_path / "call.yaml"
    script.write_text(f"steps:\n  - say: {LINE}\n  - hangup: true\n")
    async with _served([llm_fake, stt_fake, tts_fake], monkeypatch) as variables:
        env = environment(url, tmp_path / "data", CALLWRIGHT_SECRET_KEY=SECRET)
        for variable in _vendor_variables():  # the served fakes' URLs and keys only
            env.pop(variable, None)
        env.update(variables)
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
            async with asyncio.timeout(CALL_TIMEOUT_S):
                stdout, stderr = await process.communicate()
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
    assert process.returncode == 0, stderr.decode()[-5000:]
    call = json.loads(stdout)
    assert call["end_reason"] == "customer-ended-call", call["transcript"]
    said = [(row["role"], row["text"]) for row in call["transcript"]]
    assert ("user", LINE) in said
    assert ("assistant", "".join(ANSWER)) in said
    chosen = {choice["kind"]: choice for choice in call["providers"]}
    assert [chosen[kind]["chosen"] for kind in ("llm", "stt", "tts")] == [
        "anthropic",
        "deepgram",
        "cartesia",
    ]
    assert "api_key from organization" in chosen["llm"]["reason"]
    assert all(llm_fake.key in request for request in llm_fake.requests())
    assert stt_fake.requests()
    assert tts_fake.requests()
