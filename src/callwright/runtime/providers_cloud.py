"""Cloud adapters for calls, built from resolved keys (``domain.credentials.resolution``).

``CloudProviders`` holds one adapter per vendor, key, endpoint and output rate for the
life of the process, as ``OfflineProviders`` holds the offline models: the adapters'
HTTP clients keep connections open between calls (no TLS handshake on a caller's first
turn), each adapter serves any number of concurrent calls, and all of them are closed
at shutdown. There are as many entries as distinct keys in use; a rotated key leaves
an idle client behind until the next restart.

Adapters are imported when first needed: a vendor's module never slows down or breaks
start-up, or the calls of assistants that do not use it.

An endpoint a user gave (an assistant's or organization's ``base_url``) is checked by
the operator's outbound-URL policy before its adapter is made (a refused one is a
setup failure: the call runs offline and its record says why), and every connection
that adapter makes goes through the policy (decision 014). The operator's and the
vendors' own endpoints are trusted as configured.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import AsyncGenerator
from typing import Any

from callwright.domain.credentials.resolution import Resolved
from callwright.providers.catalog import INPUT_RATE, Connection
from callwright.providers.protocols import LLM, STT, TTS, LLMEvent, LLMRequest
from callwright.providers.realtime.protocol import RealtimeModel
from callwright.providers.vendors import CATALOG
from callwright.security.outbound import STRICT, OutboundPolicy, OutboundRefused

__all__ = ["CloudProviders", "NamedLLM", "PinnedModel", "llm_label"]

# The rate a synthesiser falls back to when it cannot produce the transport's own.
_TTS_FALLBACK_RATE = 16_000


def llm_label(vendor: str, model: str | None) -> str:
    """What the call record calls an LLM: ``openai:gpt-4o-mini`` (the vendor alone when
    the adapter's default model answers), so that a turn answered by a fallback of the
    primary's own vendor says so."""
    return f"{vendor}:{model}" if model else vendor


class NamedLLM:
    """The primary LLM under its label: adapters are pooled per vendor and key, so the
    adapter's own name is the vendor's, whichever model a call asks it for."""

    def __init__(self, llm: LLM, name: str) -> None:
        self.name = name
        self.inner = llm

    def stream(self, request: LLMRequest) -> AsyncGenerator[LLMEvent, None]:
        return self.inner.stream(request)


class PinnedModel:
    """A fallback LLM: asks for its own model (or its adapter's default) rather than
    the primary's, and without the primary's ``custom_config``, which is meant for
    the primary's vendor; named by its label unless ``name`` says otherwise."""

    def __init__(self, llm: LLM, model: str | None, name: str | None = None) -> None:
        self.name = name or llm_label(llm.name, model)
        self.inner = llm
        self.model = model

    def stream(self, request: LLMRequest) -> AsyncGenerator[LLMEvent, None]:
        return self.inner.stream(dataclasses.replace(request, model=self.model, extra={}))


class CloudProviders:
    """Process-wide cloud adapters, created on first use and closed by ``aclose``."""

    def __init__(self, outbound: OutboundPolicy = STRICT) -> None:
        self._adapters: dict[tuple[str | int | bool | None, ...], Any] = {}
        self._outbound = outbound

    def _guard(self, resolved: Resolved) -> OutboundPolicy | None:
        """The policy an adapter's connections go through: for an endpoint a user gave,
        checked now (``ValueError`` when refused), else none."""
        if not resolved.tenant_endpoint:
            return None
        try:
            self._outbound.check_url(resolved.base_url or "")
        except OutboundRefused as exc:
            raise ValueError(f"base_url refused: {exc}") from exc
        return self._outbound

    def __len__(self) -> int:
        return len(self._adapters)

    def _get(self, resolved: Resolved, rate: int) -> Any:
        """The adapter for ``resolved`` at ``rate``, made by its catalog entry once per
        vendor, key, endpoint and rate (``ValueError`` / ``ProviderError`` when the
        adapter refuses its configuration, ``ImportError`` when absent)."""
        vendor = CATALOG.get(resolved.catalog_kind, resolved.vendor)
        if vendor is None or vendor.adapter is None:
            raise ValueError(f"no cloud {resolved.kind} adapter is called {resolved.vendor!r}")
        # The key (and every value beside it) enters the cache key as a digest only.
        values = sorted(resolved.values.items())
        digest = hashlib.sha256(repr(values).encode()).hexdigest()
        guarded = resolved.tenant_endpoint
        cache_key = (resolved.catalog_kind, resolved.vendor, digest, rate, guarded)
        if cache_key not in self._adapters:
            connection = Connection(
                resolved.vendor,
                resolved.api_key or "",
                resolved.base_url,
                resolved.region,
                resolved.values,
                resolved.model,
                rate,
                self._guard(resolved),
            )
            self._adapters[cache_key] = vendor.create(connection)
        return self._adapters[cache_key]

    def llm(self, resolved: Resolved) -> LLM:
        """The chat model for a resolved LLM."""
        llm: LLM = self._get(resolved, 0)
        return llm

    def realtime(self, resolved: Resolved) -> RealtimeModel:
        """The speech-to-speech model for a resolved realtime assistant."""
        model: RealtimeModel = self._get(resolved, 0)
        return model

    def stt(self, resolved: Resolved, sample_rate: int) -> STT:
        """The transcriber for a resolved STT, taking the caller's audio at the rate the
        call is heard at, ``sample_rate`` (8 kHz on a phone line), where the vendor
        takes it, else at 16 kHz (the catalog's ``input_rates``); the engine resamples
        for the latter."""
        vendor = CATALOG.get("stt", resolved.vendor)
        rate = vendor.input_rate(sample_rate) if vendor is not None else INPUT_RATE
        stt: STT = self._get(resolved, rate)
        return stt

    def tts(self, resolved: Resolved, sample_rate: int) -> TTS:
        """The synthesiser for a resolved TTS, producing the transport's ``sample_rate``
        where the vendor can (μ-law 8 kHz for a phone line), else 16 kHz (a vendor with
        one output rate produces that one); the engine resamples whatever remains."""
        vendor = CATALOG.get("tts", resolved.vendor)
        if vendor is not None and vendor.output_rate is not None:
            sample_rate = vendor.output_rate
        tts: TTS
        try:
            tts = self._get(resolved, sample_rate)
        except ValueError:
            if sample_rate == _TTS_FALLBACK_RATE:
                raise
            # The vendor has no such rate; a bad endpoint or region fails here again.
            tts = self._get(resolved, _TTS_FALLBACK_RATE)
        return tts

    async def aclose(self) -> None:
        """Close every adapter that holds connections."""
        adapters, self._adapters = list(self._adapters.values()), {}
        for adapter in adapters:
            closer = getattr(adapter, "aclose", None)
            if closer is not None:
                await closer()
