"""The vendor catalog's types: what callwright knows about each vendor it can call.

One ``Vendor`` entry per (kind, vendor) says everything the rest of the code needs,
so that adding a vendor is its adapter file plus one entry in ``providers.vendors``:

- ``kind`` and ``name``: what an assistant's settings call it (``tts_settings.provider``
  "cartesia", ``llm_provider`` "groq", an STT model's vendor);
- ``account``: the credential it needs (``Account``): which fields, which of them are
  required, where the server's own values are read (``ServerValue``: a ``Settings``
  attribute read by a typed callable, or environment variables), whether an
  organization may store it (``/api/v1/credentials``); None for an offline model;
- ``module``: the module that implements it (by default
  ``callwright.providers.<kind>.<name>``), imported when a call first needs it (a
  vendor's SDK never slows down start-up or the calls that do not use it). The module
  has ``create(connection) -> adapter``;
- ``options``: whether the adapter module also has ``options(settings)``, which builds
  the vendor's own options type (``ElevenLabsOptions``) from the assistant's settings
  for its kind; the engine hands them to the adapter as ``TTSOptions.vendor`` /
  ``STTOptions.vendor``, opaque to everything in between;
- ``output_rate``: a synthesiser that produces one rate whatever the transport's;
- ``input_rates``: the rates a transcriber takes the caller's audio at. The engine
  hears a phone line at 8 kHz and everything else at 16 kHz; a transcriber that takes
  the hearing's rate is built for it (no resampling on its path, decision 028), any
  other at 16 kHz (``INPUT_RATE``).

The resolution of keys (``domain.credentials.resolution``), the per-process adapters
(``runtime.providers_cloud``), the assistant schema's vendor names, the credential
schema's providers and fields, the dialects' vendor lists and ``POST /validate`` all
read the catalog; none of them names a vendor.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from callwright.security.outbound import OutboundPolicy
from callwright.settings import Settings

__all__ = [
    "ENDPOINT_FIELDS",
    "INPUT_RATE",
    "Account",
    "Catalog",
    "Connection",
    "Kind",
    "ServerValue",
    "Vendor",
    "environment",
    "setting",
]

Kind = Literal["llm", "stt", "tts", "embeddings", "realtime"]
# What says where a key is sent: it always comes from the same place as the key.
ENDPOINT_FIELDS = ("base_url", "region")
# The rate every transcriber takes: the one a transcriber is built for when it does not
# take the hearing's own.
INPUT_RATE = 16_000


@dataclass(frozen=True, slots=True)
class ServerValue:
    """Where the server's own value of one credential field comes from: ``read`` takes
    it from ``Settings``; ``variables`` are the environment variables behind it, in
    the order they are tried (named in messages, ``CALLWRIGHT_X`` first)."""

    read: Callable[[Settings], str | None] = field(repr=False)
    variables: tuple[str, ...]


def setting(read: Callable[[Settings], str | None], *variables: str) -> ServerValue:
    """A value held by a ``Settings`` field: ``setting(lambda s: s.openai_api_key,
    "CALLWRIGHT_OPENAI_API_KEY", "OPENAI_API_KEY")`` (a renamed field fails mypy, and
    a test checks each variable reaches the field)."""
    return ServerValue(read, variables)


def environment(*variables: str) -> ServerValue:
    """A value read from the first of ``variables`` set in the environment the settings
    were read from (``Settings.provider_environment``): vendors with no field of their
    own."""

    def read(settings: Settings) -> str | None:
        found = settings.provider_environment
        return next((found[name] for name in variables if found.get(name)), None)

    return ServerValue(read, variables)


@dataclass(frozen=True, slots=True)
class Account:
    """A vendor account: the credential fields it takes, which a call needs, and where
    the server's values for each come from. ``name`` is the credential's provider
    (``/api/v1/credentials``); several vendors may share one (``whisper`` uses
    ``openai``'s)."""

    name: str
    label: str
    api_key: ServerValue
    base_url: ServerValue
    region: ServerValue | None = None
    # Values that identify the account beside its key (PlayHT's user id): they come
    # from the same place as the key, like the endpoint, and a call needs them.
    identity: tuple[tuple[str, ServerValue], ...] = ()
    # The endpoint when none is configured, for vendors the OpenAI adapter serves.
    default_base_url: str | None = None
    # Whether an organization credential can hold it ("custom" is per assistant/server).
    stored: bool = True
    needs_key: bool = True
    needs_base_url: bool = False
    # Azure's endpoint is regional; a configured base_url replaces the region.
    needs_region: bool = False

    @classmethod
    def conventional(
        cls,
        name: str,
        label: str,
        identity: tuple[str, ...] = (),
        *,
        default_base_url: str | None = None,
    ) -> Account:
        """An account whose values are read from the conventional variables only:
        ``CALLWRIGHT_<NAME>_API_KEY`` or ``<NAME>_API_KEY``, ``CALLWRIGHT_<NAME>_BASE_URL``,
        and for each identity field ``CALLWRIGHT_<NAME>_<FIELD>`` or ``<NAME>_<FIELD>``
        (a vendor without a ``Settings`` field of its own)."""
        prefix = name.upper()

        def variables(field_name: str) -> ServerValue:
            variable = f"{prefix}_{field_name.upper()}"
            return environment(f"CALLWRIGHT_{variable}", variable)

        return cls(
            name,
            label,
            variables("api_key"),
            environment(f"CALLWRIGHT_{prefix}_BASE_URL"),
            identity=tuple((field_name, variables(field_name)) for field_name in identity),
            default_base_url=default_base_url,
        )

    @property
    def server_values(self) -> dict[str, ServerValue]:
        """Every field of the account and where the server's value of it is read."""
        values = {"api_key": self.api_key, **dict(self.identity), "base_url": self.base_url}
        if self.region is not None:
            values["region"] = self.region
        return values

    @property
    def fields(self) -> tuple[str, ...]:
        """The fields a credential of this account may hold."""
        return tuple(self.server_values)

    @property
    def required(self) -> tuple[str, ...]:
        """The fields an organization credential of this account must hold."""
        return ("api_key", *(name for name, _ in self.identity))

    def needs(self, values: Mapping[str, str]) -> tuple[str, ...]:
        """What a call needs, given the ``values`` found for it."""
        needs = []
        if self.needs_key:
            needs.append("api_key")
        needs += [name for name, _ in self.identity]
        if self.needs_base_url:
            needs.append("base_url")
        if self.needs_region and "base_url" not in values:
            needs.append("region")
        return tuple(needs)


@dataclass(frozen=True, slots=True)
class Connection:
    """What an adapter is made with: the resolved values (the key and the endpoint it
    is paired with, from one place), the vendor's name, the model asked for, the audio
    rate and the outbound policy its connections go through (None: trusted endpoint).
    Never shows a value in its ``repr``."""

    vendor: str
    api_key: str = field(repr=False)
    base_url: str | None = None
    region: str | None = None
    values: Mapping[str, str] = field(default_factory=dict, repr=False)
    model: str | None = None
    sample_rate: int = 16_000
    outbound: OutboundPolicy | None = None

    def value(self, name: str) -> str:
        """An identity value the account requires (resolution made sure it is there)."""
        return self.values[name]


@dataclass(frozen=True, slots=True)
class Vendor:
    """One vendor of one kind. ``account`` None is an offline model (served by the
    process's own models); ``adapter`` is the module with ``create(Connection)``.
    Embeddings are served by ``domain.knowledge.embedders``, not through ``create``."""

    kind: Kind
    name: str
    account: Account | None = None
    module: str | None = None
    options: bool = False
    output_rate: int | None = None
    # A transcriber's input rates (of those the engine hears at: 8 and 16 kHz).
    input_rates: tuple[int, ...] = (INPUT_RATE,)
    # An offline model's optional extra: (the module it needs, how to install it).
    extra: tuple[str, str] | None = None

    @property
    def offline(self) -> bool:
        return self.account is None

    def input_rate(self, hearing_rate: int) -> int:
        """The rate a transcriber of this vendor is built for when the call is heard at
        ``hearing_rate``: that rate when it takes it, else ``INPUT_RATE``."""
        return hearing_rate if hearing_rate in self.input_rates else INPUT_RATE

    @property
    def adapter(self) -> str | None:
        """The adapter's module: ``module``, else ``callwright.providers.<kind>.<name>``
        (None for an offline model, which the process's own models serve)."""
        if self.offline:
            return None
        return self.module or f"callwright.providers.{self.kind}.{self.name}"

    def _module(self) -> Any:
        if self.adapter is None:
            raise ValueError(f"{self.name!r} is an offline {self.kind} model, not a cloud adapter")
        return importlib.import_module(self.adapter)

    def create(self, connection: Connection) -> Any:
        """The adapter for ``connection`` (``ImportError`` when its module or SDK is
        absent; ``ValueError`` / ``ProviderError`` when it refuses the values)."""
        return self._module().create(connection)

    def vendor_options(self, settings: Mapping[str, Any]) -> object:
        """The vendor's own options from the assistant's (validated) settings for its
        kind, or None when it has none. Imports the adapter module, which the call
        that asks for them is about to use; absent, there is nothing to build for."""
        if not self.options:
            return None
        try:
            module = self._module()
        except ImportError:
            return None
        return module.options(settings)


class Catalog:
    """Every vendor, by kind and name, in the order listed (which is the order the
    schemas and messages name them in)."""

    def __init__(self, vendors: Iterable[Vendor]) -> None:
        self._vendors: dict[tuple[str, str], Vendor] = {}
        for vendor in vendors:
            key = (vendor.kind, vendor.name)
            if key in self._vendors:
                raise ValueError(f"{vendor.kind} vendor {vendor.name!r} is listed twice")
            self._vendors[key] = vendor

    def get(self, kind: Kind, name: str) -> Vendor | None:
        return self._vendors.get((kind, name))

    def vendors(self, kind: Kind) -> tuple[Vendor, ...]:
        return tuple(vendor for vendor in self._vendors.values() if vendor.kind == kind)

    def names(self, kind: Kind, *, offline: bool = True) -> tuple[str, ...]:
        """The vendors of ``kind`` (with or without the offline models)."""
        return tuple(vendor.name for vendor in self.vendors(kind) if offline or not vendor.offline)

    def vendor_options(self, kind: Kind, name: str, settings: Mapping[str, Any]) -> object:
        """The options of vendor ``name`` from the assistant's ``settings`` for ``kind``
        (``tts_settings``, ``stt_settings``), or None."""
        vendor = self.get(kind, name)
        return vendor.vendor_options(settings) if vendor is not None else None

    def offline_name(self, kind: Kind) -> str:
        """The first offline model of ``kind`` (the default one)."""
        return next(vendor.name for vendor in self.vendors(kind) if vendor.offline)

    def accounts(self) -> tuple[Account, ...]:
        """Every account, once, in the order first listed."""
        found: dict[str, Account] = {}
        for vendor in self._vendors.values():
            if vendor.account is not None and vendor.account.name not in found:
                found[vendor.account.name] = vendor.account
        return tuple(found.values())

    def account(self, name: str) -> Account | None:
        return next((found for found in self.accounts() if found.name == name), None)
