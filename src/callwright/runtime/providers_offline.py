"""The process's offline models (decision 010): one of each, created on first use,
shared by every call and closed on shutdown. The models are heavy (seconds to load),
so ``warm_up`` / ``warm_up_for`` load them before a caller waits.

| kind | offline model |
|---|---|
| LLM | ``local``: llama.cpp (local-llm extra) |
| STT | ``whisper-local``: whisper tiny.en |
| TTS | Piper (worker process), else espeak |
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field

from callwright.engine.session_providers import SessionProviders
from callwright.providers.errors import ProviderUnavailable
from callwright.providers.protocols import LLM, STT, TTS

__all__ = ["OfflineProviders", "offline_voice"]


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
                    "no LLM can serve this call: no cloud LLM has a key and the "
                    "local-llm extra is not installed "
                    "(CMAKE_ARGS='-DGGML_NATIVE=OFF' pip install 'callwright[local-llm]')",
                )
            from callwright.providers.llm.local import LocalLlamaLLM

            self._llm = LocalLlamaLLM(self.local_llm_path)
        return self._llm

    async def warm_up(self, tts_name: str = "piper") -> None:
        """Load every model now (seconds each), so the first call does not wait."""
        for provider in (self.stt(), self.tts(tts_name), self.llm()):
            await _load(provider)

    async def warm_up_for(self, providers: SessionProviders, *also: object) -> None:
        """Load the offline models among ``providers`` (and ``also``) now; cloud
        adapters and models nobody asked for are left alone."""
        own = {id(model) for model in (self._stt, self._llm, *self._tts.values()) if model}
        for provider in (providers.stt, providers.tts, *providers.llms, *also):
            if id(provider) in own:
                await _load(provider)

    async def aclose(self) -> None:
        for closable in (self._stt, self._llm, *self._tts.values()):
            closer = getattr(closable, "aclose", None)
            if closer is not None:
                await closer()


async def _load(provider: object) -> None:
    for method in ("load", "start"):
        loader = getattr(provider, method, None)
        if loader is not None:
            await loader()


def offline_voice(requested: str) -> str:
    """The offline voice that serves ``requested``: espeak when Piper is not installed."""
    if requested == "piper" and not (_installed("piper") or _installed("piper_voice")):
        return "espeak"
    return requested
