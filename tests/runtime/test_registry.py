"""Provider resolution and the call's provider factory: the assistant's key, then the
organization's credential, then the server's environment, then the offline model;
which adapter serves each kind, at which rate, and what the call record says."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections import deque
from collections.abc import Mapping
from typing import Any

import pytest
from pydantic import AliasChoices

from callwright.clock import VirtualClock
from callwright.domain.assistants.schemas import AssistantIn
from callwright.domain.credentials.resolution import Resolved, resolve
from callwright.engine.config import CallConfig
from callwright.engine.events import LlmError, TurnTiming
from callwright.engine.replies import ToolHooks, llm_reply
from callwright.providers.errors import ProviderError, ProviderUnavailable
from callwright.providers.fakes import ScriptedLLM, ScriptedSTT, ToneTTS
from callwright.providers.llm.anthropic import AnthropicLLM
from callwright.providers.llm.openai import OpenAILLM
from callwright.providers.protocols import LLM, STT, TTS, ChatMessage, LLMRequest, TextDelta
from callwright.providers.stt.assemblyai import AssemblyAISTT
from callwright.providers.stt.deepgram import DeepgramSTT
from callwright.providers.tts.elevenlabs import ElevenLabsTTS
from callwright.providers.tts.openai_speech import OpenAISpeechTTS
from callwright.providers.vendors import stt_vendor
from callwright.runtime import providers_offline
from callwright.runtime.providers_cloud import CloudProviders, NamedLLM, PinnedModel
from callwright.runtime.providers_offline import OfflineProviders
from callwright.runtime.registry import (
    ProviderChoice,
    build_providers,
    cloud_provider_factory,
    offline_provider_factory,
)
from callwright.security.outbound import OutboundPolicy
from callwright.settings import Settings
from tests.support.optional import require
from tests.vendor_fakes import Reply, serve
from tests.vendor_fakes.openai_chat import FakeOpenAI

require("onnxruntime", "Silero VAD needs the offline extra")

OWN, STORED, SERVER = (
    "sk-own-0123456789abcdef",
    "sk-org-0123456789abcdef",
    "sk-env-0123456789abcdef",
)


class StubOffline(OfflineProviders):
    """The offline kinds as scripted fakes under the offline models' names."""

    def __init__(self) -> None:
        super().__init__()
        clock = VirtualClock()
        self.local_stt = ScriptedSTT(clock, deque(), name="whisper-local")
        self.local_llm = ScriptedLLM(clock, [], name="local")
        self.voices: dict[str, ToneTTS] = {}
        self._clock = clock

    def stt(self) -> STT:
        return self.local_stt

    def llm(self) -> LLM:
        return self.local_llm

    def tts(self, name: str) -> TTS:
        return self.voices.setdefault(name, ToneTTS(self._clock, name=name))


def _document(**fields: Any) -> dict[str, Any]:
    return AssistantIn(name="registry", **fields).model_dump(mode="json")


def _server(**fields: Any) -> Settings:
    return Settings(**fields)


@pytest.fixture(autouse=True)
def _no_vendor_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keys or endpoints of the machine running the tests must not reach ``Settings``."""
    for name, info in Settings.model_fields.items():
        if name.endswith(("_api_key", "_base_url", "_speech_key", "_speech_region")):
            alias = info.validation_alias
            names = alias.choices if isinstance(alias, AliasChoices) else []
            for variable in [f"CALLWRIGHT_{name.upper()}", *map(str, names)]:
                monkeypatch.delenv(variable, raising=False)


def _by_kind(choices: list[ProviderChoice]) -> dict[str, ProviderChoice]:
    return {choice.kind: choice for choice in choices}


# -- resolution order, per kind -------------------------------------------------------

# kind -> (assistant document with its own key, the credential's provider, the setting)
_KINDS: dict[str, tuple[dict[str, Any], str, str]] = {
    "llm": (
        _document(llm_provider="anthropic", llm_provider_config={"api_key": OWN}),
        "anthropic",
        "anthropic_api_key",
    ),
    "llm-fallback": (
        _document(
            llm_provider="local",
            llm_fallback_providers={
                "enabled": True,
                "fallbacks": [{"provider": "gemini", "api_key": OWN}],
            },
        ),
        "gemini",
        "gemini_api_key",
    ),
    "tts": (
        _document(tts_settings={"provider": "cartesia", "provider_config": {"api_key": OWN}}),
        "cartesia",
        "cartesia_api_key",
    ),
    "embeddings": (
        _document(
            llm_provider="openai",
            llm_provider_config={"api_key": OWN},
            rag_settings={"enabled": True},
        ),
        "openai",
        "openai_api_key",
    ),
}


def _find(document: Mapping[str, Any], kind: str, credentials: Any, server: Settings) -> Resolved:
    (found,) = [r for r in resolve(document, credentials, server).all() if r.kind == kind]
    return found


def _without_own_key(document: dict[str, Any], kind: str) -> dict[str, Any]:
    copy: dict[str, Any] = AssistantIn.model_validate(document).model_dump(mode="json")
    if kind in ("llm", "embeddings"):
        copy["llm_provider_config"]["api_key"] = None
    elif kind == "llm-fallback":
        copy["llm_fallback_providers"]["fallbacks"][0]["api_key"] = None
    else:
        copy["tts_settings"]["provider_config"] = {}
    return copy


@pytest.mark.parametrize("kind", list(_KINDS))
def test_a_key_comes_from_the_assistant_then_the_organization_then_the_environment(
    kind: str,
) -> None:
    document, account, setting = _KINDS[kind]
    credentials = {account: {"api_key": STORED}}
    server = _server(**{setting: SERVER})

    everywhere = _find(document, kind, credentials, server)
    assert (everywhere.api_key, everywhere.source, everywhere.ok) == (OWN, "assistant", True)

    bare = _without_own_key(document, kind)
    stored = _find(bare, kind, credentials, server)
    assert (stored.api_key, stored.source) == (STORED, "organization")

    environment = _find(bare, kind, {}, server)
    assert (environment.api_key, environment.source) == (SERVER, "environment")

    missing = _find(bare, kind, {}, _server())
    assert (missing.ok, missing.source, missing.missing) == (False, None, ("api_key",))
    problem = missing.problem() or ""
    assert f"an organization credential for {account!r}" in problem
    assert f"CALLWRIGHT_{setting.upper()}" in problem


def test_the_transcriber_key_comes_from_the_organization_then_the_environment() -> None:
    # The resource has no place for an assistant's own transcriber key (yet): a
    # provider_config in stt_settings would come first.
    document = _document(stt_settings={"model": "nova-3"})
    server = _server(deepgram_api_key=SERVER)
    stored = _find(document, "stt", {"deepgram": {"api_key": STORED}}, server)
    assert (stored.vendor, stored.api_key, stored.source) == ("deepgram", STORED, "organization")
    assert _find(document, "stt", {}, server).source == "environment"
    with_own = {
        **document,
        "stt_settings": {**document["stt_settings"], "provider_config": {"api_key": OWN}},
    }
    assert _find(with_own, "stt", {"deepgram": {"api_key": STORED}}, server).source == "assistant"
    missing = _find(document, "stt", {}, _server())
    assert missing.missing == ("api_key",)
    assert "stt_settings" not in (missing.problem() or "")  # nowhere to set it there


def test_a_key_goes_to_the_endpoint_stored_beside_it_else_the_vendors() -> None:
    document = _document(llm_provider="openai")
    credentials = {"openai": {"api_key": STORED}}
    server = _server(openai_api_key=SERVER, openai_base_url="http://proxy.internal/v1")
    # The organization names no endpoint: its key goes to the vendor's endpoint on this
    # server (the operator's base URL for the vendor).
    resolved = _find(document, "llm", credentials, server)
    assert (resolved.api_key, resolved.base_url) == (STORED, "http://proxy.internal/v1")
    assert resolved.reason() == (
        "requested; api_key from organization, sent to base_url from environment"
    )
    assert not resolved.tenant_endpoint

    credentials["openai"]["base_url"] = "https://org.example/v1"
    stored = _find(document, "llm", credentials, server)
    assert (stored.api_key, stored.base_url) == (STORED, "https://org.example/v1")
    assert (
        stored.reason()
        == "requested; api_key from organization, sent to base_url from organization"
    )
    assert stored.tenant_endpoint

    own = _document(
        llm_provider="openai",
        llm_provider_config={"api_key": OWN, "base_url": "https://own.example/v1"},
    )
    assert (_find(own, "llm", credentials, server).api_key) == OWN
    assert _find(own, "llm", credentials, server).base_url == "https://own.example/v1"
    # An assistant key without an endpoint goes to the vendor's, not the organization's.
    own_key_only = _document(llm_provider="openai", llm_provider_config={"api_key": OWN})
    assert _find(own_key_only, "llm", credentials, server).base_url == "http://proxy.internal/v1"
    assert _find(own_key_only, "llm", credentials, _server()).reason() == (
        "requested; api_key from assistant, sent to the vendor's endpoint"
    )


# kind -> an assistant document that names its own endpoint for that kind, but no key
_FOREIGN_ENDPOINT = "https://collector.example/v1"
_ENDPOINT_ONLY: dict[str, tuple[dict[str, Any], str, str]] = {
    "llm": (
        _document(llm_provider="openai", llm_provider_config={"base_url": _FOREIGN_ENDPOINT}),
        "openai",
        "openai_api_key",
    ),
    "llm-fallback": (
        _document(
            llm_provider="local",
            llm_fallback_providers={
                "enabled": True,
                "fallbacks": [{"provider": "groq", "base_url": _FOREIGN_ENDPOINT}],
            },
        ),
        "groq",
        "groq_api_key",
    ),
    "stt": (
        # The resource has no stt provider_config yet; resolution already reads one.
        {
            **_document(stt_settings={"model": "nova-3"}),
            "stt_settings": {"model": "nova-3", "provider_config": {"base_url": _FOREIGN_ENDPOINT}},
        },
        "deepgram",
        "deepgram_api_key",
    ),
    "tts": (
        _document(
            tts_settings={
                "provider": "elevenlabs",
                "provider_config": {"base_url": _FOREIGN_ENDPOINT},
            }
        ),
        "elevenlabs",
        "elevenlabs_api_key",
    ),
    "embeddings": (
        _document(
            llm_provider="openai",
            llm_provider_config={"base_url": _FOREIGN_ENDPOINT},
            rag_settings={"enabled": True, "embedding_model": "text-embedding-3-small"},
        ),
        "openai",
        "openai_api_key",
    ),
}


@pytest.mark.parametrize("kind", list(_ENDPOINT_ONLY))
def test_credentials_never_follow_a_foreign_url(kind: str) -> None:
    # Issue 13, finding 1: an assistant that names only an endpoint got the server's
    # (or its organization's) key sent there.
    document, account, setting = _ENDPOINT_ONLY[kind]
    resolved = _find(document, kind, {account: {"api_key": STORED}}, _server(**{setting: SERVER}))
    assert resolved.api_key is None
    assert resolved.base_url == _FOREIGN_ENDPOINT
    assert (resolved.ok, resolved.missing) == (False, ("api_key",))
    problem = resolved.problem() or ""
    assert "base_url is set, so" in problem
    assert ".api_key must be too" in problem
    assert "sent only to their own endpoints" in problem


def test_an_organization_endpoint_gets_only_the_organization_key() -> None:
    document = _document(llm_provider="openai")
    server = _server(openai_api_key=SERVER)
    # A credential that names an endpoint but holds no key cannot borrow the server's.
    credentials: dict[str, dict[str, str]] = {"openai": {"base_url": _FOREIGN_ENDPOINT}}
    resolved = _find(document, "llm", credentials, server)
    assert (resolved.api_key, resolved.ok) == (None, False)
    assert resolved.base_url == _FOREIGN_ENDPOINT


def test_a_custom_endpoint_named_by_the_assistant_is_called_without_a_key() -> None:
    document = _document(llm_provider="custom", llm_provider_config={"base_url": _FOREIGN_ENDPOINT})
    resolved = _find(document, "llm", {}, _server(custom_llm_api_key=SERVER))
    assert (resolved.ok, resolved.api_key, resolved.base_url) == (True, None, _FOREIGN_ENDPOINT)
    assert resolved.reason() == "requested; no key, base_url from assistant"


def test_azure_needs_a_region_unless_a_base_url_replaces_it() -> None:
    document = _document(tts_settings={"provider": "azure", "provider_config": {"api_key": OWN}})
    missing = _find(document, "tts", {}, _server())
    assert missing.missing == ("region",)
    assert "tts_settings.provider_config.region" in (missing.problem() or "")
    assert "AZURE_SPEECH_REGION" in (missing.problem() or "")
    # The region is part of the endpoint: it comes with the key, or from the server.
    assert not _find(document, "tts", {"azure": {"region": "westeurope"}}, _server()).ok
    assert _find(document, "tts", {}, _server(azure_speech_region="westeurope")).ok
    stored = _find(
        _without_own_key(document, "tts"),
        "tts",
        {"azure": {"api_key": STORED, "region": "westeurope"}},
        _server(azure_speech_region="eastus"),
    )
    assert (stored.ok, stored.region, stored.sources["region"]) == (
        True,
        "westeurope",
        "organization",
    )
    regional = _find(document, "tts", {}, _server(azure_tts_base_url="https://speech.internal"))
    assert (regional.ok, regional.needs) == (True, ("api_key",))


def test_a_custom_llm_needs_an_endpoint_and_no_key() -> None:
    document = _document(llm_provider="custom")
    assert _find(document, "llm", {}, _server()).missing == ("base_url",)
    resolved = _find(document, "llm", {}, _server(custom_llm_base_url="http://localhost:11434/v1"))
    assert (resolved.ok, resolved.api_key, resolved.source) == (True, None, "environment")


def test_groq_and_xai_default_to_their_own_endpoints() -> None:
    for vendor, url in (("groq", "https://api.groq.com/openai/v1"), ("xai", "https://api.x.ai/v1")):
        resolved = _find(_document(llm_provider=vendor), "llm", {vendor: {"api_key": STORED}}, None)
        assert (resolved.base_url, resolved.sources["base_url"]) == (url, "default")
        assert resolved.reason() == (
            "requested; api_key from organization, sent to the vendor's endpoint"
        )


def test_offline_models_need_nothing() -> None:
    document = _document(
        llm_provider="local",
        stt_settings={"model": "whisper-local"},
        tts_settings={"provider": "piper"},
        rag_settings={"enabled": True, "embedding_model": "all-MiniLM-L6-v2"},
    )
    for resolved in resolve(document, {}, None).all():
        assert (resolved.offline, resolved.ok, resolved.source) == (True, True, "offline")


@pytest.mark.parametrize(
    ("model", "vendor"),
    [
        ("nova-2", "deepgram"),
        ("nova-3-medical", "deepgram"),
        ("whisper-1", "whisper"),
        ("gpt-4o-transcribe", "whisper"),
        ("universal-streaming", "assemblyai"),
        ("whisper-local", "whisper-local"),
        (None, "deepgram"),
    ],
)
def test_the_transcriber_is_named_by_the_model(model: str | None, vendor: str) -> None:
    assert stt_vendor(model) == vendor


# -- the factory ------------------------------------------------------------------------


def test_each_kind_gets_its_vendors_adapter_when_its_key_resolves(cloud: CloudProviders) -> None:
    document = _document(
        llm_provider="openai",
        llm_provider_config={"api_key": OWN},
        stt_settings={"model": "universal-streaming"},
        tts_settings={"provider": "elevenlabs"},
    )
    providers, choices = build_providers(
        document,
        StubOffline(),
        cloud=cloud,
        credentials={"elevenlabs": {"api_key": STORED}},
        server=_server(assemblyai_api_key=SERVER),
        sample_rate=8000,
    )
    (llm,) = providers.llms
    assert isinstance(llm, NamedLLM)
    assert isinstance(llm.inner, OpenAILLM)
    assert llm.name == "openai:gpt-4o-mini"
    assert isinstance(providers.stt, AssemblyAISTT)
    assert isinstance(providers.tts, ElevenLabsTTS)
    assert providers.tts.sample_rate == 8000  # μ-law for a phone line: no resampling
    kinds = _by_kind(choices)
    assert [(c.requested, c.chosen) for c in choices] == [
        ("openai", "openai"),
        ("assemblyai", "assemblyai"),
        ("elevenlabs", "elevenlabs"),
    ]
    endpoint = ", sent to the vendor's endpoint"
    assert kinds["llm"].reason == "requested; api_key from assistant" + endpoint
    assert kinds["stt"].reason == "requested; api_key from environment" + endpoint
    assert kinds["tts"].reason == "requested; api_key from organization" + endpoint
    for choice in choices:
        assert not any(key in choice.reason for key in (OWN, STORED, SERVER))


def test_a_kind_without_its_key_runs_offline_and_says_why(cloud: CloudProviders) -> None:
    offline = StubOffline()
    providers, choices = build_providers(
        _document(), offline, cloud=cloud, credentials={}, server=_server()
    )
    assert providers.llms == (offline.local_llm,)
    assert providers.stt is offline.local_stt
    assert providers.tts.name in ("piper", "espeak")
    kinds = _by_kind(choices)
    assert (kinds["llm"].requested, kinds["llm"].chosen) == ("openai", "local")
    assert kinds["llm"].reason.startswith("offline default: no OpenAI api_key")
    assert (kinds["stt"].requested, kinds["stt"].chosen) == ("deepgram", "whisper-local")
    assert "DEEPGRAM_API_KEY" in kinds["stt"].reason
    assert kinds["tts"].requested == "elevenlabs"
    assert "ELEVENLABS_API_KEY" in kinds["tts"].reason
    assert len(cloud) == 0


def test_a_primary_without_a_key_lets_the_first_usable_fallback_lead(
    cloud: CloudProviders,
) -> None:
    document = _document(
        llm_provider="openai",
        llm_fallback_providers={
            "enabled": True,
            "fallbacks": [
                {"provider": "groq"},  # no key anywhere: skipped
                {"provider": "anthropic", "api_key": OWN, "model": "claude-sonnet-4-5"},
            ],
        },
    )
    providers, choices = build_providers(
        document, StubOffline(), cloud=cloud, credentials={}, server=_server()
    )
    (lead,) = providers.llms
    assert isinstance(lead, PinnedModel)
    assert isinstance(lead.inner, AnthropicLLM)
    assert (lead.name, lead.model) == ("anthropic:claude-sonnet-4-5", "claude-sonnet-4-5")
    assert [(c.kind, c.requested, c.chosen) for c in choices[:3]] == [
        ("llm", "openai", "anthropic"),
        ("llm-fallback", "groq", "none"),
        ("llm-fallback", "anthropic", "anthropic"),
    ]
    assert "the first usable fallback leads" in choices[0].reason
    assert "GROQ_API_KEY" in choices[1].reason


def test_fallbacks_follow_the_primary_in_order(cloud: CloudProviders) -> None:
    document = _document(
        llm_provider="openai",
        llm_provider_config={"api_key": OWN},
        llm_fallback_providers={
            "enabled": True,
            "fallbacks": [{"provider": "xai"}, {"provider": "local"}],
        },
    )
    offline = StubOffline()
    providers, _ = build_providers(
        document, offline, cloud=cloud, credentials={"xai": {"api_key": STORED}}, server=_server()
    )
    assert [llm.name for llm in providers.llms] == ["openai:gpt-4o-mini", "xai", "local"]
    assert providers.llms[2] is offline.local_llm
    # Disabled, the same usable fallbacks are left out.
    disabled = {
        **document,
        "llm_fallback_providers": {**document["llm_fallback_providers"], "enabled": False},
    }
    assert disabled["llm_fallback_providers"]["fallbacks"]
    providers, _ = build_providers(
        disabled, offline, cloud=cloud, credentials={"xai": {"api_key": STORED}}, server=_server()
    )
    assert [llm.name for llm in providers.llms] == ["openai:gpt-4o-mini"]


def test_a_fallback_of_the_primarys_own_vendor_is_named_apart(cloud: CloudProviders) -> None:
    """The turn's record names the LLM that answered: a fallback that is the primary's
    vendor with another model (or another key for the same model) must not read as
    the primary."""
    document = _document(
        llm_provider="openai",
        llm_provider_config={"api_key": OWN, "model": "gpt-4o-mini"},
        llm_fallback_providers={
            "enabled": True,
            "fallbacks": [
                {"provider": "openai", "api_key": STORED, "model": "gpt-4o"},
                {"provider": "openai", "api_key": SERVER, "model": "gpt-4o-mini"},
            ],
        },
    )
    providers, choices = build_providers(document, StubOffline(), cloud=cloud, server=_server())
    assert [llm.name for llm in providers.llms] == [
        "openai:gpt-4o-mini",
        "openai:gpt-4o",
        "openai:gpt-4o-mini#3",
    ]
    # The provider choices stay by vendor.
    assert [(c.kind, c.chosen) for c in choices[:3]] == [
        ("llm", "openai"),
        ("llm-fallback", "openai"),
        ("llm-fallback", "openai"),
    ]


async def test_the_turn_record_names_the_fallback_that_answered(cloud: CloudProviders) -> None:
    clock = VirtualClock()
    # One vendor's adapter, as the pool hands it out (named after the vendor only).
    failing = [ProviderUnavailable("openai", "HTTP 500")]
    primary = ScriptedLLM(clock, failing, first_token_s=0, name="openai")
    backup = ScriptedLLM(clock, ["Fine."], first_token_s=0, token_s=0, name="openai")
    llms = (NamedLLM(primary, "openai:gpt-4o-mini"), PinnedModel(backup, "gpt-4o"))
    config = CallConfig.from_settings(_document())
    timing = TurnTiming(1)
    sentences = llm_reply(
        config,
        llms,
        [ChatMessage("user", "Hi")],
        clock,
        timing,
        ToolHooks(),
        first_token_timeout_s=1.0,
        filler_after_s=5.0,
        filler_counter=itertools.count(),
    )
    assert [sentence async for sentence in sentences] == ["Fine."]
    assert timing.llm_provider == "openai:gpt-4o"
    assert timing.llm_errors == [LlmError("openai:gpt-4o-mini", "HTTP 500")]


def test_a_cloud_transcriber_and_voice_have_the_offline_ones_behind_them(
    cloud: CloudProviders, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(providers_offline, "_installed", lambda module: True)
    offline = StubOffline()
    document = _document(
        stt_settings={"model": "nova-2"},
        tts_settings={"provider": "elevenlabs", "provider_config": {"api_key": OWN}},
    )
    providers, _ = build_providers(
        document, offline, cloud=cloud, credentials={"deepgram": {"api_key": STORED}}
    )
    assert isinstance(providers.stt, DeepgramSTT)
    assert providers.stt_fallbacks == (offline.local_stt,)
    assert isinstance(providers.tts, ElevenLabsTTS)
    assert [voice.name for voice in providers.tts_fallbacks] == ["piper", "espeak"]


def test_the_offline_voices_back_each_other_piper_only_when_installed(
    cloud: CloudProviders, monkeypatch: pytest.MonkeyPatch
) -> None:
    offline = StubOffline()
    piper = _document(tts_settings={"provider": "piper"}, stt_settings={"model": "whisper-local"})
    monkeypatch.setattr(providers_offline, "_installed", lambda module: True)
    providers, _ = build_providers(piper, offline, cloud=cloud)
    assert providers.tts.name == "piper"
    assert [voice.name for voice in providers.tts_fallbacks] == ["espeak"]
    assert providers.stt_fallbacks == ()  # the offline transcriber has nothing behind it
    espeak = _document(tts_settings={"provider": "espeak"})
    providers, _ = build_providers(espeak, offline, cloud=cloud)
    assert [voice.name for voice in providers.tts_fallbacks] == ["piper"]
    monkeypatch.setattr(providers_offline, "_installed", lambda module: False)
    cloud_voice = _document(
        tts_settings={"provider": "cartesia", "provider_config": {"api_key": OWN}}
    )
    providers, _ = build_providers(cloud_voice, offline, cloud=cloud)
    assert [voice.name for voice in providers.tts_fallbacks] == ["espeak"]


async def test_a_fallback_asks_for_its_own_model_without_the_primarys_custom_config() -> None:
    inner = ScriptedLLM(VirtualClock(), ["Fine."], first_token_s=0, token_s=0)
    pinned = PinnedModel(inner, "gemini-2.5-pro")
    request = LLMRequest(
        (ChatMessage("user", "Hi"),), model="gpt-4o-mini", temperature=0.3, extra={"seed": 7}
    )
    events = [event async for event in pinned.stream(request)]
    assert TextDelta("Fine.") in events
    (sent,) = inner.requests
    assert (sent.model, sent.extra, sent.temperature) == ("gemini-2.5-pro", {}, 0.3)


@pytest.mark.parametrize(("rate", "expected"), [(8000, 8000), (16000, 16000), (32000, 16000)])
def test_the_voice_matches_the_transport_where_the_vendor_can(
    cloud: CloudProviders, rate: int, expected: int
) -> None:
    document = _document(
        tts_settings={"provider": "elevenlabs", "provider_config": {"api_key": OWN}}
    )
    providers, _ = build_providers(
        document, StubOffline(), cloud=cloud, server=_server(), sample_rate=rate
    )
    assert isinstance(providers.tts, ElevenLabsTTS)
    assert providers.tts.sample_rate == expected  # else the vendor's nearest: 16 kHz


def test_openai_speech_is_always_24_khz(cloud: CloudProviders) -> None:
    document = _document(tts_settings={"provider": "openai", "provider_config": {"api_key": OWN}})
    for rate in (8000, 16000):
        providers, _ = build_providers(
            document, StubOffline(), cloud=cloud, server=_server(), sample_rate=rate
        )
        assert isinstance(providers.tts, OpenAISpeechTTS)
        assert providers.tts.sample_rate == 24000
    assert len(cloud) == 1  # one adapter serves both transports


def test_an_adapter_refusing_its_configuration_runs_offline(cloud: CloudProviders) -> None:
    document = _document(tts_settings={"provider": "azure", "provider_config": {"api_key": OWN}})
    providers, choices = build_providers(
        document, StubOffline(), cloud=cloud, server=_server(azure_speech_region="East US")
    )
    assert providers.tts.name in ("piper", "espeak")
    reason = _by_kind(choices)["tts"].reason
    assert reason.startswith("offline default: the azure adapter could not be set up")
    assert "East US" in reason


def test_adapters_are_shared_by_calls_with_the_same_key(cloud: CloudProviders) -> None:
    def build(key: str) -> LLM:
        document = _document(llm_provider="openai", llm_provider_config={"api_key": key})
        providers, _ = build_providers(document, StubOffline(), cloud=cloud, server=_server())
        llm = providers.llms[0]
        assert isinstance(llm, NamedLLM)  # the call's own name over the shared adapter
        return llm.inner

    first, again, other = build(OWN), build(OWN), build(STORED)
    assert first is again
    assert other is not first
    assert len(cloud) == 2


async def test_adapters_are_closed_with_the_pool() -> None:
    cloud = CloudProviders()
    document = _document(llm_provider="openai", llm_provider_config={"api_key": OWN})
    providers, _ = build_providers(document, StubOffline(), cloud=cloud, server=_server())
    named = providers.llms[0]
    assert isinstance(named, NamedLLM)
    llm = named.inner
    assert isinstance(llm, OpenAILLM)
    await cloud.aclose()
    assert len(cloud) == 0
    assert llm._client.is_closed()


async def test_the_call_factory_reads_the_calls_organization_credentials(
    cloud: CloudProviders,
) -> None:
    asked: list[int] = []

    async def credentials(organization_id: int) -> Mapping[str, Mapping[str, Any]]:
        asked.append(organization_id)
        await asyncio.sleep(0)
        return {"deepgram": {"api_key": STORED}}

    factory = cloud_provider_factory(
        server=_server(), offline=StubOffline(), cloud=cloud, credentials=credentials
    )
    providers, choices = await factory(_document(), 42, 16000)
    assert asked == [42]
    assert isinstance(providers.stt, DeepgramSTT)
    assert _by_kind(choices)["stt"].reason == (
        "requested; api_key from organization, sent to the vendor's endpoint"
    )


async def test_the_offline_factory_never_uses_a_key() -> None:
    document = _document(llm_provider="openai", llm_provider_config={"api_key": OWN})
    providers, choices = await offline_provider_factory(StubOffline())(document, 1, 16000)
    assert [llm.name for llm in providers.llms] == ["local"]
    assert "cloud providers are not enabled" in _by_kind(choices)["llm"].reason


# -- keys and endpoints on the wire (issue 13, findings 1 and 2) ---------------------------


async def _ask(llm: LLM) -> list[Any]:
    request = LLMRequest(messages=(ChatMessage("user", "hello"),), model="gpt-4o-mini")
    events: list[Any] = []
    with contextlib.suppress(ProviderError):
        async for event in llm.stream(request):
            events.append(event)
    return events


async def test_the_servers_key_never_reaches_an_endpoint_an_assistant_names() -> None:
    # The probe: with the server's OpenAI key set, an assistant naming only its own
    # base_url received that key. The collector here is the assistant's URL; a keyless
    # custom fallback points there too, so requests do reach it, without any key.
    collector = FakeOpenAI("whatever")
    collector.script(Reply(("hi",)))
    async with serve(collector) as url:
        document = _document(
            llm_provider="openai",
            llm_provider_config={"base_url": f"{url}/v1"},
            llm_fallback_providers={
                "enabled": True,
                "fallbacks": [{"provider": "custom", "base_url": f"{url}/v1"}],
            },
        )
        cloud = CloudProviders(OutboundPolicy(allowed_hosts="127.0.0.1"))
        try:
            providers, choices = build_providers(
                document,
                StubOffline(),
                cloud=cloud,
                credentials={"openai": {"api_key": STORED}},
                server=_server(openai_api_key=SERVER),
            )
            assert "llm_provider_config.api_key must be too" in _by_kind(choices)["llm"].reason
            for llm in providers.llms:
                await _ask(llm)
        finally:
            await cloud.aclose()
    assert collector.received, "the keyless fallback should have called the collector"
    for request in collector.received:
        sent = json.dumps(request.headers)
        assert SERVER not in sent
        assert STORED not in sent


async def test_a_tenant_endpoint_is_reached_only_as_the_outbound_policy_allows() -> None:
    vendor = FakeOpenAI(STORED)
    vendor.script(Reply(("We open at nine.",)))
    async with serve(vendor) as url:
        port = url.rsplit(":", 1)[1]
        document = _document(llm_provider="openai")
        # The organization's credential names the endpoint beside its key.
        credentials = {"openai": {"api_key": STORED, "base_url": f"{url}/v1"}}

        async def served(policy: OutboundPolicy) -> tuple[list[Any] | None, str]:
            """What the LLM answers (None when the call runs offline) and why."""
            cloud, offline = CloudProviders(policy), StubOffline()
            try:
                providers, choices = build_providers(
                    document, offline, cloud=cloud, credentials=credentials, server=_server()
                )
                (llm,) = providers.llms
                events = None if llm is offline.local_llm else await _ask(llm)
                return events, _by_kind(choices)["llm"].reason
            finally:
                await cloud.aclose()

        # Allowed (as the operator would allow an internal LLM): it answers.
        events, reason = await served(OutboundPolicy(allowed_hosts=f"127.0.0.1:{port}"))
        assert events is not None
        assert TextDelta("We open at nine.") in events
        assert reason.endswith("api_key from organization, sent to base_url from organization")
        # Not allowed: no adapter is made, the call runs offline and says why.
        events, reason = await served(OutboundPolicy(allow_http=True))
        assert events is None
        assert "base_url refused" in reason
        assert "loopback" in reason
        # A name that passes the check but resolves inside is refused on connecting.
        credentials["openai"]["base_url"] = f"http://llm.rebind.test:{port}/v1"

        async def rebinding(host: str, port: int) -> list[str]:
            return ["127.0.0.1"]

        events, reason = await served(OutboundPolicy(allow_http=True, resolver=rebinding))
        assert events == []
    assert len(vendor.received) == 1  # only the allowed request arrived


def test_voice_settings_the_voice_cannot_use_are_noted_in_the_call_record(
    cloud: CloudProviders,
) -> None:
    """The record's provider notes name tts_settings the serving voice has no
    equivalent for: the cloud voice asked for, or the offline one standing in."""
    tuned = {"stability": 0.9, "style": 0.4, "latency": 3}
    _, choices = build_providers(
        _document(tts_settings={"provider": "cartesia", **tuned}),
        StubOffline(),
        cloud=cloud,
        credentials={"cartesia": {"api_key": STORED}},
        server=_server(),
    )
    tts = _by_kind(choices)["tts"]
    assert tts.chosen == "cartesia"
    assert tts.reason.endswith(
        "; not supported by cartesia, no effect: "
        "tts_settings.latency, tts_settings.stability, tts_settings.style"
    )
    _, choices = build_providers(
        _document(tts_settings={"provider": "elevenlabs", **tuned}),
        StubOffline(),
        cloud=cloud,
        credentials={"elevenlabs": {"api_key": STORED}},
        server=_server(),
    )
    assert "not supported" not in _by_kind(choices)["tts"].reason
    _, choices = build_providers(
        _document(tts_settings={"provider": "elevenlabs", **tuned}),
        StubOffline(),
        cloud=cloud,
        credentials={},
        server=_server(),
    )
    offline = _by_kind(choices)["tts"]
    assert f"not supported by {offline.chosen}, no effect: tts_settings.latency" in offline.reason


def test_smart_turn_detection_gets_the_turn_model_and_says_so(cloud: CloudProviders) -> None:
    offline = StubOffline()
    silence, silence_choices = build_providers(
        _document(), offline, cloud=cloud, credentials={}, server=_server()
    )
    assert silence.turn_model is None
    assert "turn" not in _by_kind(silence_choices)
    smart, choices = build_providers(
        _document(stt_settings={"turn_detection": "smart"}),
        offline,
        cloud=cloud,
        credentials={},
        server=_server(),
    )
    turn = _by_kind(choices)["turn"]
    if smart.turn_model is None:  # the pipecat-ai wheel (the model file) is not installed
        assert (turn.chosen, turn.requested) == ("words", "smart-turn-v3.2")
        assert "the words alone decide" in turn.reason
    else:
        assert smart.turn_model.name == turn.chosen == "smart-turn-v3.2"
