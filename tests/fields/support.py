"""What the field tests share: the assistant document a call runs on, and the offline
kinds as scripted fakes under the offline models' names (so that the call's provider
factory, ``runtime.registry.build_providers``, can be driven without models)."""

from __future__ import annotations

from collections import deque
from typing import Any

from callwright.clock import VirtualClock
from callwright.domain.assistants.schemas import AssistantIn
from callwright.providers.fakes import ScriptedLLM, ScriptedSTT, ToneTTS
from callwright.providers.protocols import LLM, STT, TTS
from callwright.runtime.providers_offline import OfflineProviders

__all__ = ["StubOffline", "document"]


def document(**fields: Any) -> dict[str, Any]:
    """The canonical settings document of an assistant with these fields, as stored
    and as a call reads it."""
    return AssistantIn(name="fields", **fields).model_dump(mode="json")


class StubOffline(OfflineProviders):
    """The offline kinds as scripted fakes: ``local_llm`` answers ``replies``."""

    def __init__(self, clock: VirtualClock | None = None, replies: list[Any] | None = None) -> None:
        super().__init__()
        self._clock = clock or VirtualClock()
        self.local_stt = ScriptedSTT(self._clock, deque(), name="whisper-local")
        self.local_llm = ScriptedLLM(
            self._clock, list(replies or []), first_token_s=0, token_s=0, name="local"
        )
        self.voices: dict[str, ToneTTS] = {}

    def stt(self) -> STT:
        return self.local_stt

    def llm(self) -> LLM:
        return self.local_llm

    def tts(self, name: str) -> TTS:
        return self.voices.setdefault(name, ToneTTS(self._clock, name=name))
