"""A realtime assistant's call (decision 018): its speech-to-speech model, resolved and
made like any provider (assistant → organization → environment, keys paired with their
endpoints), and the session options taken from its settings.

There is no offline realtime model: when the model's values do not resolve (or its
adapter cannot be set up) the call cannot run, and ``RealtimeUnavailable`` says why;
the runtime then ends the call at once with that detail in its record. It never falls
back to the pipeline.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from callwright.domain.credentials.resolution import resolve
from callwright.engine.config import CallConfig
from callwright.providers.errors import ProviderError
from callwright.providers.protocols import ToolSpec
from callwright.providers.realtime.protocol import RealtimeAudio, RealtimeModel, RealtimeOptions
from callwright.runtime.providers_cloud import CloudProviders, llm_label
from callwright.runtime.registry import CredentialSource, ProviderChoice
from callwright.settings import Settings

__all__ = [
    "RealtimeFactory",
    "RealtimeUnavailable",
    "realtime_model_factory",
    "realtime_options",
]

RealtimeFactory = Callable[
    [Mapping[str, Any], int], Awaitable[tuple[RealtimeModel, str, ProviderChoice]]
]
"""(the assistant's decrypted settings, its organization id) → the model, its label
for the record (``openai:gpt-realtime``) and the choice made; ``RealtimeUnavailable``
when none can serve."""


class RealtimeUnavailable(Exception):
    """No speech-to-speech model can serve the call; the message says what is missing
    and where it may be configured."""


def realtime_model_factory(
    *, server: Settings, cloud: CloudProviders, credentials: CredentialSource
) -> RealtimeFactory:
    """The runtime's realtime models: the assistant's vendor when its key resolves."""

    async def build(
        settings: Mapping[str, Any], organization_id: int
    ) -> tuple[RealtimeModel, str, ProviderChoice]:
        stored = await credentials(organization_id)
        resolved = resolve(settings, stored, server).realtime
        if resolved is None:
            raise RealtimeUnavailable("the assistant is not in realtime mode")
        if (problem := resolved.problem()) is not None:
            raise RealtimeUnavailable(f"realtime: {problem}; there is no offline realtime model")
        try:
            model = cloud.realtime(resolved)
        except (ImportError, ValueError, ProviderError) as exc:
            raise RealtimeUnavailable(
                f"realtime: the {resolved.vendor} adapter could not be set up "
                f"({type(exc).__name__}: {exc})"
            ) from exc
        label = llm_label(resolved.vendor, resolved.model)
        choice = ProviderChoice("realtime", resolved.vendor, resolved.vendor, resolved.reason())
        return model, label, choice

    return build


def realtime_options(
    config: CallConfig,
    settings: Mapping[str, Any],
    audio: RealtimeAudio,
    tools: tuple[ToolSpec, ...],
) -> RealtimeOptions:
    """The session's set-up from the assistant's settings: the prompt (rendered with
    the call's variables), ``realtime_settings``, the endpointing silence, the language,
    max_tokens and the call's tools."""
    realtime = settings.get("realtime_settings") or {}
    return RealtimeOptions(
        instructions=config.llm.system_prompt,
        voice=realtime.get("voice"),
        model=realtime.get("model"),
        audio=audio,
        turn_detection=realtime.get("turn_detection") or "server_vad",
        silence_ms=int(config.endpointing.silence_threshold_s * 1000),
        eagerness=realtime.get("eagerness") or "auto",
        transcription_model=realtime.get("transcription_model"),
        language=config.stt.language,
        tools=tools,
        max_output_tokens=config.llm.max_tokens,
    )
