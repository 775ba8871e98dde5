"""The vendor catalog: every entry can be made, every server value is read from the
variables it names, and the schemas' vendor lists are the catalog's."""

from __future__ import annotations

import importlib
from typing import get_args

import pytest
from pydantic import AliasChoices

from callwright.domain.assistants.dialects._shared import SttProvider
from callwright.domain.assistants.schemas import AssistantIn, LlmProvider, TtsProvider
from callwright.domain.credentials.schemas import CREDENTIAL_PROVIDERS, CredentialIn
from callwright.errors import ValidationFailed
from callwright.providers.catalog import Account, Catalog, Vendor, environment
from callwright.providers.vendors import CATALOG
from callwright.settings import Settings

_SERVER_VALUES = [
    (found.name, field_name, value)
    for found in CATALOG.accounts()
    for field_name, value in found.server_values.items()
]


@pytest.fixture(autouse=True)
def _no_vendor_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for _, _, value in _SERVER_VALUES:
        for variable in value.variables:
            monkeypatch.delenv(variable, raising=False)


@pytest.mark.parametrize(
    ("account_name", "field_name", "value"),
    _SERVER_VALUES,
    ids=[f"{name}.{field_name}" for name, field_name, _ in _SERVER_VALUES],
)
def test_each_variable_a_server_value_names_reaches_it(
    monkeypatch: pytest.MonkeyPatch, account_name: str, field_name: str, value: object
) -> None:
    from callwright.providers.catalog import ServerValue

    assert isinstance(value, ServerValue)
    assert value.read(Settings()) is None
    for variable in value.variables:
        monkeypatch.setenv(variable, f"from-{variable}")
        assert value.read(Settings()) == f"from-{variable}", (account_name, field_name)
        monkeypatch.delenv(variable)


def test_every_vendor_setting_of_the_server_is_read_by_the_catalog() -> None:
    """A key or endpoint in ``Settings`` that no entry reads would be silently unused."""
    fields = {
        name
        for name in Settings.model_fields
        if name.endswith(("_api_key", "_base_url", "_speech_key", "_speech_region"))
        and name != "twilio_api_base_url"
    }
    read = set()
    for _, _, value in _SERVER_VALUES:
        for name in fields:
            alias = Settings.model_fields[name].validation_alias
            variables = (
                {str(choice) for choice in alias.choices}
                if isinstance(alias, AliasChoices)
                else {f"CALLWRIGHT_{name.upper()}"}
            )
            if variables == set(value.variables):
                read.add(name)
    assert read == fields


@pytest.mark.parametrize(
    "vendor",
    [vendor for kind in ("llm", "stt", "tts", "realtime") for vendor in CATALOG.vendors(kind)],
    ids=lambda vendor: f"{vendor.kind}-{vendor.name}",
)
def test_every_cloud_entry_names_a_module_that_makes_its_adapter(vendor: Vendor) -> None:
    if vendor.offline:
        assert vendor.adapter is None
        return
    assert vendor.adapter is not None
    module = importlib.import_module(vendor.adapter)
    assert callable(module.create)
    assert vendor.options == callable(getattr(module, "options", None))


def test_the_schemas_name_exactly_the_catalogs_vendors() -> None:
    assert get_args(LlmProvider) == CATALOG.names("llm")
    assert get_args(TtsProvider) == CATALOG.names("tts")
    assert get_args(SttProvider) == CATALOG.names("stt", offline=False)
    stored = [found.name for found in CATALOG.accounts() if found.stored]
    assert list(CREDENTIAL_PROVIDERS) == [*stored, "twilio"]
    for name in CATALOG.names("tts"):
        AssistantIn(name="x", tts_settings={"provider": name})  # accepted
    with pytest.raises(ValueError, match="'edmo' is not supported"):
        AssistantIn(name="x", tts_settings={"provider": "edmo"})


def test_a_vendor_listed_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="listed twice"):
        Catalog([Vendor("tts", "piper"), Vendor("tts", "piper")])


def test_a_conventional_account_reads_its_vendors_variables() -> None:
    made = Account.conventional("acme", "Acme", identity=("user_id",))
    assert made.fields == ("api_key", "user_id", "base_url")
    assert made.required == ("api_key", "user_id")
    assert made.needs({}) == ("api_key", "user_id")
    environ = {"ACME_API_KEY": "k", "CALLWRIGHT_ACME_USER_ID": "u", "ACME_USER_ID": "ignored"}
    server = Settings(provider_environment=environ)
    read = {name: value.read(server) for name, value in made.server_values.items()}
    assert read == {"api_key": "k", "user_id": "u", "base_url": None}


def test_a_regional_account_needs_a_region_unless_an_endpoint_replaces_it() -> None:
    regional = Account(
        "r", "R", environment("R_KEY"), environment("R_URL"), region=environment("R_REGION")
    )
    assert regional.fields == ("api_key", "base_url", "region")
    regional = Account(
        "r",
        "R",
        environment("R_KEY"),
        environment("R_URL"),
        region=environment("R_REGION"),
        needs_region=True,
    )
    assert regional.needs({}) == ("api_key", "region")
    assert regional.needs({"base_url": "https://r.example"}) == ("api_key",)


def test_credential_fields_follow_the_catalogs_accounts() -> None:
    """A credential takes what its account names and nothing else (the service's rule)."""
    from callwright.domain.credentials.service import check_fields

    for found in CATALOG.accounts():
        if not found.stored:
            continue
        document = dict.fromkeys(found.required, "value")
        if found.needs_region:
            document["region"] = "eastus"
        CredentialIn.model_validate({"provider": found.name, **document})
        check_fields(found.name, document)
        with pytest.raises(ValidationFailed) as refused:
            check_fields(found.name, {**document, "account_sid": "AC" + "0" * 32})
        assert refused.value.details[0]["field"] == "account_sid"


def test_a_calls_options_carry_its_vendors_own_options() -> None:
    """The engine's per-call options hold what the assistant's vendors alone read."""
    from callwright.engine.config import CallConfig
    from callwright.providers.stt.assemblyai import AssemblyAIOptions
    from callwright.providers.stt.deepgram import DeepgramOptions
    from callwright.providers.tts.elevenlabs import ElevenLabsOptions

    stt = {"model": "universal-streaming", "punctuate": False, "smart_format": False}
    tts = {"provider": "elevenlabs", "stability": 0.2, "latency": 3}
    config = CallConfig.from_settings(
        AssistantIn(name="x", stt_settings=stt, tts_settings=tts).model_dump(mode="json")
    )
    assert config.stt.vendor == AssemblyAIOptions(format_turns=False)
    assert config.tts.vendor == ElevenLabsOptions(latency=3, stability=0.2)
    deepgram = {"model": "nova-3", "smart_format": False}
    config = CallConfig.from_settings(
        AssistantIn(
            name="x", stt_settings=deepgram, tts_settings={"provider": "cartesia"}
        ).model_dump(mode="json")
    )
    assert config.stt.vendor == DeepgramOptions(smart_format=False)
    assert config.tts.vendor is None  # Cartesia reads only what every voice does
