"""Which provider serves a call, picked from the assistant's settings (the engine sees
only protocols; this is the one place that knows the concrete adapters).

This release ships the offline providers only; the cloud adapters (OpenAI, Anthropic,
Gemini, Deepgram, ElevenLabs, ...) arrive with their own issue. Until a vendor's adapter
exists, or when its key is missing, the call runs on the offline provider of the same
kind and the choice says so, rather than failing mid-call:

| kind | offline provider |
|---|---|
| VAD | Silero (ONNX) |
| STT | whisper tiny.en (faster-whisper), inference off the event loop |
| TTS | Piper (``piper``) in a worker process; ``espeak`` on request or when Piper is absent |
| LLM | a GGUF model on llama.cpp (``local``; the ``local-llm`` extra) |

Models are heavy, so ``OfflineProviders`` holds one of each per process, shared by
every call, and closes them on shutdown.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from callwright.engine.session import SessionProviders
from callwright.providers.errors import ProviderUnavailable
from callwright.providers.protocols import LLM, STT, TTS

__all__ = [
    "OfflineProviders",
    "ProviderChoice",
    "ProviderFactory",
    "build_providers",
    "offline_provider_factory",
]

logger = logging.getLogger(__name__)


ProviderFactory = Callable[
    [Mapping[str, Any], int, int], Awaitable[tuple["SessionProviders", list["ProviderChoice"]]]
]
"""Providers for one call: (the assistant's decrypted settings, its organization id, the
transport's sample rate) → the providers and what was chosen for each kind."""


@dataclass(frozen=True, slots=True)
class ProviderChoice:
    """What a call asked for, what serves it, and why (for the call record)."""

    kind: str
    requested: str
    chosen: str
    reason: str


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


@dataclass
class OfflineProviders:
    """Process-wide offline models, created on first use."""

    local_llm_path: str | None = None
    _stt: STT | None = None
    _tts: dict[str, TTS] = field(default_factory=dict)
    _llm: LLM | None = None

    def stt(self) -> STT:
        if self._stt is None:
            from callwright.providers.stt.whisper_local import LocalWhisperSTT

            self._stt = LocalWhisperSTT()
        return self._stt

    def tts(self, name: str) -> TTS:
        if name not in self._tts:
            if name == "piper":
                from callwright.providers.tts.piper import PiperTTS

                self._tts[name] = PiperTTS()
            else:
                from callwright.providers.tts.espeak import EspeakTTS

                self._tts[name] = EspeakTTS()
        return self._tts[name]

    def llm(self) -> LLM:
        if self._llm is None:
            if not _installed("llama_cpp"):
                raise ProviderUnavailable(
                    "local",
                    "no LLM can serve this call: no cloud adapter is available yet and the "
                    "local-llm extra is not installed "
                    "(CMAKE_ARGS='-DGGML_NATIVE=OFF' pip install 'callwright[local-llm]')",
                )
            from callwright.providers.llm.local import LocalLlamaLLM

            self._llm = LocalLlamaLLM(self.local_llm_path)
        return self._llm

    async def warm_up(self, tts_name: str = "piper") -> None:
        """Load every model now (seconds each), so the first call does not wait."""
        for provider in (self.stt(), self.tts(tts_name), self.llm()):
            for method in ("load", "start"):
                loader = getattr(provider, method, None)
                if loader is not None:
                    await loader()

    async def aclose(self) -> None:
        for closable in (self._stt, self._llm, *self._tts.values()):
            closer = getattr(closable, "aclose", None)
            if closer is not None:
                await closer()


def build_providers(
    settings: Mapping[str, Any], offline: OfflineProviders
) -> tuple[SessionProviders, list[ProviderChoice]]:
    """Providers for one call of an assistant (its canonical settings document)."""
    from callwright.providers.vad.silero import SileroVAD

    choices: list[ProviderChoice] = []
    requested_llm = settings.get("llm_provider") or "openai"
    llms: list[LLM] = [offline.llm()]
    choices.append(_choice("llm", requested_llm, "local"))
    fallbacks = settings["llm_fallback_providers"]
    if fallbacks["enabled"]:
        for fallback in fallbacks["fallbacks"]:
            # Each fallback resolves like the primary; a second local copy adds nothing.
            choices.append(
                ProviderChoice(
                    "llm-fallback",
                    fallback["provider"],
                    "none",
                    "no adapter for this vendor in this release",
                )
            )
    stt_model = settings["stt_settings"].get("model") or "whisper"
    choices.append(_choice("stt", stt_model, "whisper-local"))
    requested_tts = settings["tts_settings"]["provider"]
    tts_name = requested_tts if requested_tts in ("piper", "espeak") else "piper"
    if tts_name == "piper" and not (_installed("piper") or _installed("piper_voice")):
        tts_name = "espeak"
    choices.append(_choice("tts", requested_tts, tts_name))
    for choice in choices:
        if choice.requested != choice.chosen:
            logger.info(
                "%s: %s served by %s (%s)",
                choice.kind,
                choice.requested,
                choice.chosen,
                choice.reason,
            )
    providers = SessionProviders(
        llms=tuple(llms), stt=offline.stt(), tts=offline.tts(tts_name), vad=SileroVAD()
    )
    return providers, choices


def _choice(kind: str, requested: str, chosen: str) -> ProviderChoice:
    reason = "requested" if requested == chosen else "offline default (no cloud adapter yet)"
    return ProviderChoice(kind, requested, chosen, reason)


def offline_provider_factory(offline: OfflineProviders) -> ProviderFactory:
    """The call runtime's provider factory on this process's offline models."""

    async def build(
        settings: Mapping[str, Any], organization_id: int, sample_rate: int
    ) -> tuple[SessionProviders, list[ProviderChoice]]:
        return build_providers(settings, offline)

    return build
