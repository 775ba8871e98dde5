"""Which key, endpoint and region serve each provider an assistant configures
(decision 010, decision 013).

A key is looked for in three places, and the first one that has it wins:

1. **the assistant**, in its own settings for that provider: ``llm_provider_config``
   (the primary LLM), the fallback's entry (``llm_fallback_providers.fallbacks[i]``),
   ``tts_settings.provider_config``, ``stt_settings.provider_config`` and a realtime
   assistant's ``realtime_settings`` (``api_key``,
   ``base_url``, ``region``); embeddings use an openai assistant's
   ``llm_provider_config``, as retrieval does;
2. **the organization's** stored credential for the vendor (``/api/v1/credentials``);
3. **the server's environment** (``Settings``: ``CALLWRIGHT_OPENAI_API_KEY`` or
   ``OPENAI_API_KEY``, ``CALLWRIGHT_DEEPGRAM_BASE_URL``, ...).

**A key is sent only to the endpoint it was configured for.** The endpoint (base URL
and region) comes from the same place as the key, or, where that place names none,
from the vendor's endpoint on this server: the operator's base URL for the vendor
(``CALLWRIGHT_<VENDOR>_BASE_URL``), else the vendor's public API. So a server or
organization key never follows an endpoint an assistant names: an assistant that
overrides the endpoint must bring its own key (vendors that need no key, the custom
OpenAI-compatible server, are then called without one).

A provider missing a value it needs is served by the offline model of its kind at call
time, and the assistant's validation reports it. Resolution is pure: the caller loads
the organization's credentials (one query) and passes them in. ``Resolved`` never
shows a key: its ``repr`` leaves values out and its texts name only where each came from.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from callwright.providers.catalog import ENDPOINT_FIELDS, Account
from callwright.providers.catalog import Kind as VendorKind
from callwright.providers.vendors import CATALOG, stt_vendor
from callwright.settings import Settings

__all__ = [
    "OFFLINE_STT",
    "Kind",
    "Resolution",
    "Resolved",
    "Source",
    "resolve",
]

Source = Literal["assistant", "organization", "environment", "default", "offline"]
Kind = Literal["llm", "llm-fallback", "stt", "tts", "embeddings", "realtime"]
Credentials = Mapping[str, Mapping[str, Any]]

# Kinds whose assistant settings have a place for a key (the resource has none for STT).
_OWN_FIELDS = frozenset({"llm", "llm-fallback", "tts", "realtime"})
OFFLINE_STT = CATALOG.offline_name("stt")
_OFFLINE_EMBEDDINGS = CATALOG.offline_name("embeddings")


@dataclass(frozen=True, slots=True)
class Resolved:
    """One configured provider: what it needs, what was found and where. ``account``
    is None for an offline model (nothing needed) and for an unknown vendor."""

    kind: Kind
    vendor: str
    where: str  # the assistant setting that asks for it
    account: Account | None = field(repr=False)
    needs: tuple[str, ...] = ()
    values: Mapping[str, str] = field(default_factory=dict, repr=False)
    sources: Mapping[str, Source] = field(default_factory=dict)
    model: str | None = None
    # The assistant names an endpoint but no key: no other key may be sent there.
    refused_endpoint: bool = False

    @property
    def catalog_kind(self) -> VendorKind:
        """The kind the catalog lists this vendor under (a fallback is an LLM)."""
        return "llm" if self.kind == "llm-fallback" else self.kind

    @property
    def offline(self) -> bool:
        return self.account is None and not self.needs

    @property
    def missing(self) -> tuple[str, ...]:
        return tuple(need for need in self.needs if need not in self.values)

    @property
    def ok(self) -> bool:
        return not self.missing

    @property
    def source(self) -> Source | None:
        """Where the main need (the key, else the endpoint) came from."""
        if self.offline:
            return "offline"
        if self.missing:
            return None
        return self.sources.get(self.needs[0]) if self.needs else self.sources.get("api_key")

    @property
    def api_key(self) -> str | None:
        return self.values.get("api_key")

    @property
    def base_url(self) -> str | None:
        return self.values.get("base_url")

    @property
    def region(self) -> str | None:
        return self.values.get("region")

    @property
    def tenant_endpoint(self) -> bool:
        """Whether the endpoint is one a user gave (the assistant's or the
        organization's base URL), which the outbound-URL policy must check on every
        connection; the operator's and the vendor's own endpoints are trusted."""
        return self.sources.get("base_url") in ("assistant", "organization")

    def reason(self) -> str:
        """Why it serves as requested: which key goes to which endpoint, by where each
        came from, never a value."""
        if self.offline:
            return "requested (offline model)"
        endpoint = [
            f"{name} from {self.sources[name]}"
            for name in ENDPOINT_FIELDS
            if self.sources.get(name) not in (None, "default")
        ]
        where = " and ".join(endpoint) if endpoint else "the vendor's endpoint"
        if "api_key" in self.sources:
            return f"requested; api_key from {self.sources['api_key']}, sent to {where}"
        return f"requested; no key, {where}" if endpoint else "requested"

    def problem(self) -> str | None:
        """What is missing and where it may be configured, or None when nothing is."""
        if self.account is None:
            if self.offline:
                return None
            return f"{self.vendor!r} is not a provider callwright supports for {self.kind}"
        if not self.missing:
            return None
        account = self.account
        if self.refused_endpoint:
            named = " and ".join(
                f"{self.where}.{name}"
                for name in ENDPOINT_FIELDS
                if self.sources.get(name) == "assistant"
            )
            return (
                f"{named} is set, so {self.where}.api_key must be too: the organization's "
                f"and the server's {account.label} keys are sent only to their own endpoints"
            )
        wanted = " and ".join(self.missing)
        places = []
        if self.kind in _OWN_FIELDS:
            places.append(" and ".join(f"{self.where}.{need}" for need in self.missing))
        if account.stored:
            places.append(f"an organization credential for {account.name!r}")
        server = account.server_values
        variables = [" or ".join(server[need].variables) for need in self.missing]
        if variables:
            places.append("the server's " + "; ".join(variables))
        return f"no {account.label} {wanted}: set {', or '.join(places)}"


@dataclass(frozen=True, slots=True)
class Resolution:
    """Every provider an assistant configures, resolved."""

    llm: Resolved
    fallbacks: tuple[Resolved, ...]
    stt: Resolved
    tts: Resolved
    embeddings: Resolved | None  # None unless retrieval is enabled
    # The speech-to-speech model of a realtime assistant, which serves the whole call.
    realtime: Resolved | None = None

    def all(self) -> list[Resolved]:
        """Every provider a call of the assistant uses."""
        if self.realtime is not None:
            return [self.realtime]
        found = [self.llm, *self.fallbacks, self.stt, self.tts]
        return [*found, self.embeddings] if self.embeddings is not None else found


def resolve(
    document: Mapping[str, Any], credentials: Credentials, server: Settings | None
) -> Resolution:
    """Resolve every provider of an assistant's (decrypted, canonical) settings against
    its organization's ``credentials`` (by provider) and the server's settings."""
    lookup = _Lookup(credentials, server)
    llm_config = _mapping(document.get("llm_provider_config"))
    llm = lookup.resolve(
        "llm",
        document.get("llm_provider") or "openai",
        "llm_provider_config",
        own=llm_config,
        model=llm_config.get("model"),
    )
    fallbacks: list[Resolved] = []
    fallback_settings = _mapping(document.get("llm_fallback_providers"))
    if fallback_settings.get("enabled"):
        for index, entry in enumerate(fallback_settings.get("fallbacks") or []):
            entry = _mapping(entry)
            fallbacks.append(
                lookup.resolve(
                    "llm-fallback",
                    str(entry.get("provider")),
                    f"llm_fallback_providers.fallbacks[{index}]",
                    own=entry,
                    model=entry.get("model"),
                )
            )
    stt_settings = _mapping(document.get("stt_settings"))
    stt_model = stt_settings.get("model")
    stt = lookup.resolve(
        "stt",
        stt_vendor(stt_model),
        "stt_settings.provider_config",
        # Not in today's resource; an assistant-level transcriber key goes here.
        own=_mapping(stt_settings.get("provider_config")),
        model=stt_model,
    )
    tts_settings = _mapping(document.get("tts_settings"))
    tts = lookup.resolve(
        "tts",
        str(tts_settings.get("provider") or "elevenlabs"),
        "tts_settings.provider_config",
        own=_mapping(tts_settings.get("provider_config")),
        model=tts_settings.get("model_id"),
    )
    realtime = None
    if document.get("mode") == "realtime":
        realtime_settings = _mapping(document.get("realtime_settings"))
        realtime = lookup.resolve(
            "realtime",
            str(realtime_settings.get("provider") or "openai"),
            "realtime_settings",
            own=realtime_settings,
            model=realtime_settings.get("model"),
        )
    embeddings = _embeddings(document, lookup, llm_config)
    return Resolution(llm, tuple(fallbacks), stt, tts, embeddings, realtime)


def _embeddings(
    document: Mapping[str, Any], lookup: _Lookup, llm_config: Mapping[str, Any]
) -> Resolved | None:
    rag = _mapping(document.get("rag_settings"))
    if not rag.get("enabled"):
        return None
    model = str(rag.get("embedding_model") or _OFFLINE_EMBEDDINGS)
    vendor = "openai" if model.startswith("text-embedding-") else model
    # Retrieval uses an openai assistant's own key (domain.knowledge.embedders).
    own = llm_config if (document.get("llm_provider") or "openai") == "openai" else {}
    return lookup.resolve(
        "embeddings", vendor, "rag_settings.embedding_model", own=own, model=model
    )


class _Lookup:
    def __init__(self, credentials: Credentials, server: Settings | None) -> None:
        self._credentials = credentials
        self._server = server

    def resolve(
        self, kind: Kind, vendor: str, where: str, *, own: Mapping[str, Any], model: Any
    ) -> Resolved:
        model_name = str(model) if model else None
        entry = CATALOG.get("llm" if kind == "llm-fallback" else kind, vendor)
        if entry is None:
            return Resolved(kind, vendor, where, None, needs=("provider",), model=model_name)
        if entry.account is None:
            return Resolved(kind, vendor, where, None, model=model_name)
        account = entry.account
        values, sources, refused = self._paired(account, own)
        return Resolved(
            kind,
            vendor,
            where,
            account,
            account.needs(values),
            values,
            sources,
            model_name,
            refused_endpoint=refused,
        )

    def _paired(
        self, account: Account, own: Mapping[str, Any]
    ) -> tuple[dict[str, str], dict[str, Source], bool]:
        """The key and the endpoint it goes to, from one place. The third value is
        True when the assistant names an endpoint but no key, so no key may be used."""
        server = self._server_values(account)
        places: list[tuple[Source, dict[str, str]]] = [("assistant", _present_values(account, own))]
        if account.stored:
            stored = self._credentials.get(account.name) or {}
            places.append(("organization", _present_values(account, stored)))
        places.append(("environment", server))
        for source, found in places:
            endpoint = {name: found[name] for name in ENDPOINT_FIELDS if name in found}
            if "api_key" not in found and not endpoint:
                continue
            if "api_key" not in found and source != "environment":
                # An endpoint without a key: only a keyless vendor may be called there,
                # and never with a key from somewhere else.
                values = dict(endpoint)
                return values, dict.fromkeys(values, source), account.needs_key
            values, sources = dict(found), dict.fromkeys(found, source)
            if not endpoint:  # the key goes to the vendor's endpoint on this server
                for name in ENDPOINT_FIELDS:
                    if name in server:
                        values[name], sources[name] = server[name], "environment"
            if "base_url" not in values and account.default_base_url is not None:
                values["base_url"], sources["base_url"] = account.default_base_url, "default"
            return values, sources, False
        values, sources = {}, {}
        if account.default_base_url is not None:
            values["base_url"], sources["base_url"] = account.default_base_url, "default"
        return values, sources, False

    def _server_values(self, account: Account) -> dict[str, str]:
        if self._server is None:
            return {}
        found = {}
        for name, value in account.server_values.items():
            configured = value.read(self._server)
            if _present(configured):
                found[name] = str(configured).strip()
        return found


def _present_values(account: Account, place: Mapping[str, Any]) -> dict[str, str]:
    # Any endpoint field counts, even one the vendor takes no value for: a key is
    # then never sent elsewhere.
    names = dict.fromkeys((*account.fields, *ENDPOINT_FIELDS))
    return {name: str(place[name]).strip() for name in names if _present(place.get(name))}


def _present(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
