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
from collections.abc import AsyncGenerator, Callable
from typing import Any, TypeVar

from callwright.domain.credentials.resolution import Resolved
from callwright.providers.protocols import LLM, STT, TTS, LLMEvent, LLMRequest
from callwright.security.outbound import STRICT, OutboundPolicy, OutboundRefused

__all__ = ["CloudProviders", "NamedLLM", "PinnedModel", "llm_label"]

T = TypeVar("T")

# The engine feeds transcribers the VAD's 16 kHz audio, whatever the transport's rate.
_STT_RATE = 16_000
# The rate a synthesiser falls back to when it cannot produce the transport's own.
_TTS_FALLBACK_RATE = 16_000
_OPENAI_SPEECH_RATE = 24_000
_TRANSCRIPTION_MODELS = ("whisper-1", "gpt-4o-transcribe", "gpt-4o-mini-transcribe")


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

    def _get(self, resolved: Resolved, kind: str, rate: int | None, create: Callable[[], T]) -> T:
        # The key enters the cache key as a digest only.
        digest = hashlib.sha256((resolved.api_key or "").encode()).hexdigest()
        guarded = resolved.tenant_endpoint
        cache_key = (
            kind,
            resolved.vendor,
            digest,
            resolved.base_url,
            resolved.region,
            rate,
            guarded,
        )
        if cache_key not in self._adapters:
            self._adapters[cache_key] = create()
        adapter: T = self._adapters[cache_key]
        return adapter

    def llm(self, resolved: Resolved) -> LLM:
        """The chat model for a resolved LLM (raises ``ValueError`` / ``ProviderError``
        when the adapter refuses its configuration, ``ImportError`` when absent)."""
        key, base_url, guard = resolved.api_key or "", resolved.base_url, self._guard(resolved)
        if resolved.vendor == "anthropic":

            def create() -> LLM:
                from callwright.providers.llm.anthropic import AnthropicLLM

                return AnthropicLLM(key, base_url=base_url, outbound=guard)

        elif resolved.vendor == "gemini":

            def create() -> LLM:
                from callwright.providers.llm.gemini import GeminiLLM

                return GeminiLLM(key, base_url=base_url, outbound=guard)

        else:  # openai, groq, xai, custom: one protocol, told apart by endpoint and name

            def create() -> LLM:
                from callwright.providers.llm.openai import OpenAILLM

                return OpenAILLM(key, base_url=base_url, name=resolved.vendor, outbound=guard)

        return self._get(resolved, "llm", None, create)

    def stt(self, resolved: Resolved) -> STT:
        """The transcriber for a resolved STT (errors as for ``llm``)."""
        key, base_url, guard = resolved.api_key or "", resolved.base_url, self._guard(resolved)
        if resolved.vendor == "deepgram":

            def create() -> STT:
                from callwright.providers.stt.deepgram import DeepgramSTT

                return DeepgramSTT(key, base_url=base_url, sample_rate=_STT_RATE, outbound=guard)

        elif resolved.vendor == "assemblyai":

            def create() -> STT:
                from callwright.providers.stt.assemblyai import AssemblyAISTT

                return AssemblyAISTT(key, base_url=base_url, sample_rate=_STT_RATE, outbound=guard)

        elif resolved.vendor == "whisper":
            model = resolved.model if resolved.model in _TRANSCRIPTION_MODELS else "whisper-1"

            def create() -> STT:
                from callwright.providers.stt.openai_transcribe import OpenAITranscriptionSTT

                return OpenAITranscriptionSTT(key, base_url=base_url, model=model, outbound=guard)

        else:
            raise ValueError(f"no cloud transcriber is called {resolved.vendor!r}")
        return self._get(resolved, "stt", _STT_RATE, create)

    def tts(self, resolved: Resolved, sample_rate: int) -> TTS:
        """The synthesiser for a resolved TTS, producing the transport's ``sample_rate``
        where the vendor can (μ-law 8 kHz for a phone line), else 16 kHz (OpenAI's
        speech is always 24 kHz); the engine resamples whatever remains."""
        if resolved.vendor == "openai":  # one rate only: one adapter whatever the transport
            sample_rate = _OPENAI_SPEECH_RATE
        try:
            return self._get(resolved, "tts", sample_rate, self._tts_factory(resolved, sample_rate))
        except ValueError:
            if sample_rate == _TTS_FALLBACK_RATE:
                raise
        # The vendor has no such rate; a bad endpoint or region fails here again.
        return self._get(
            resolved,
            "tts",
            _TTS_FALLBACK_RATE,
            self._tts_factory(resolved, _TTS_FALLBACK_RATE),
        )

    def _tts_factory(self, resolved: Resolved, rate: int) -> Callable[[], TTS]:
        key, base_url, vendor = resolved.api_key or "", resolved.base_url, resolved.vendor
        guard = self._guard(resolved)

        def create() -> TTS:
            if vendor == "elevenlabs":
                from callwright.providers.tts.elevenlabs import ElevenLabsTTS

                return ElevenLabsTTS(key, base_url=base_url, sample_rate=rate, outbound=guard)
            if vendor == "cartesia":
                from callwright.providers.tts.cartesia import CartesiaTTS

                return CartesiaTTS(key, base_url=base_url, sample_rate=rate, outbound=guard)
            if vendor == "deepgram":
                from callwright.providers.tts.deepgram_aura import DeepgramAuraTTS

                return DeepgramAuraTTS(key, base_url=base_url, sample_rate=rate, outbound=guard)
            if vendor == "openai":
                from callwright.providers.tts.openai_speech import OpenAISpeechTTS

                return OpenAISpeechTTS(key, base_url=base_url, outbound=guard)
            if vendor == "azure":
                from callwright.providers.tts.azure import AzureTTS

                region = resolved.region or ""
                return AzureTTS(
                    key, region=region, base_url=base_url, sample_rate=rate, outbound=guard
                )
            raise ValueError(f"no cloud voice is called {vendor!r}")

        return create

    async def aclose(self) -> None:
        """Close every adapter that holds connections."""
        adapters, self._adapters = list(self._adapters.values()), {}
        for adapter in adapters:
            closer = getattr(adapter, "aclose", None)
            if closer is not None:
                await closer()
