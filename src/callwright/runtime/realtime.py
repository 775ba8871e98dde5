"""A realtime assistant's call (decision 018): its speech-to-speech model, resolved and
made like any provider (assistant → organization → environment, keys paired with their
endpoints), and the session options taken from its settings.

There is no offline realtime model: when the model's values do not resolve (or its
adapter cannot be set up) the call cannot run, and the factory returns no model and a
choice whose reason says why; the runtime then ends the call at once with that detail
in its record. It never falls back to the pipeline.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any

from callwright.clock import Clock
from callwright.domain.assistants.schemas import AssistantFields
from callwright.domain.credentials.resolution import resolve
from callwright.engine.builtin_tools import offered_tools
from callwright.engine.config import CallConfig
from callwright.engine.events import EventSink
from callwright.engine.lifecycle import EndCallHook
from callwright.engine.realtime import RealtimeSession
from callwright.engine.replies import Retriever, ToolRunner
from callwright.providers.errors import ProviderError
from callwright.providers.protocols import ChatMessage, ToolSpec
from callwright.providers.realtime.protocol import RealtimeAudio, RealtimeModel, RealtimeOptions
from callwright.providers.realtime.settings import unsupported_realtime_settings
from callwright.runtime.providers_cloud import CloudProviders, llm_label
from callwright.runtime.registry import CredentialSource, ProviderChoice, stored_credentials
from callwright.security.crypto import SecretBox
from callwright.security.outbound import OutboundPolicy
from callwright.settings import Settings
from callwright.store.database import create_engine, create_session_factory
from callwright.transports.protocol import Transport

__all__ = [
    "RealtimeFactory",
    "process_realtime_factory",
    "realtime_model_factory",
    "realtime_options",
    "realtime_session",
]

# The resource's defaults: a field is named in the record only once changed from them.
_DEFAULTS = AssistantFields().model_dump(mode="json")

RealtimeFactory = Callable[
    [Mapping[str, Any], int], Awaitable[tuple[RealtimeModel | None, str, ProviderChoice]]
]
"""(the assistant's decrypted settings, its organization id) → the model (None when
none can serve: the choice's reason says what is missing and where to set it), its
label for the record (``openai:gpt-realtime``) and the choice made."""


def realtime_model_factory(
    *, server: Settings, cloud: CloudProviders, credentials: CredentialSource
) -> RealtimeFactory:
    """The runtime's realtime models: the assistant's vendor when its key resolves."""

    async def build(
        settings: Mapping[str, Any], organization_id: int
    ) -> tuple[RealtimeModel | None, str, ProviderChoice]:
        stored = await credentials(organization_id)
        resolved = resolve(settings, stored, server).realtime
        if resolved is None:
            raise ValueError("the assistant is not in realtime mode")
        label = llm_label(resolved.vendor, resolved.model)

        def unavailable(why: str) -> tuple[None, str, ProviderChoice]:
            reason = f"realtime: {why}; there is no offline realtime model"
            return None, label, ProviderChoice("realtime", resolved.vendor, "none", reason)

        if (problem := resolved.problem()) is not None:
            return unavailable(problem)
        try:
            model = cloud.realtime(resolved)
        except (ImportError, ValueError, ProviderError) as exc:
            detail = f"{type(exc).__name__}: {exc}"
            return unavailable(f"the {resolved.vendor} adapter could not be set up ({detail})")
        reason = resolved.reason()
        unsupported = unsupported_realtime_settings(resolved.vendor, settings, _DEFAULTS)
        if unsupported:
            # Said in the record, not ignored silently: nothing in the session acts on them.
            reason = f"{reason}; no effect in realtime mode on {resolved.vendor}: " + ", ".join(
                unsupported
            )
        choice = ProviderChoice("realtime", resolved.vendor, resolved.vendor, reason)
        return model, label, choice

    return build


@contextlib.asynccontextmanager
async def process_realtime_factory(server: Settings) -> AsyncIterator[RealtimeFactory]:
    """The server's realtime models for a one-off process (``callwright simulate``),
    with its own database engine for the credentials and its own adapters, both
    closed on exit."""
    engine = create_engine(server.resolved_database_url)
    cloud = CloudProviders(OutboundPolicy.from_settings(server))
    credentials = stored_credentials(
        create_session_factory(engine), SecretBox(server.resolved_secret_key())
    )
    try:
        yield realtime_model_factory(server=server, cloud=cloud, credentials=credentials)
    finally:
        await cloud.aclose()
        await engine.dispose()


_EARLIER = "Your earlier conversation with this caller, for context:"


def _instructions(config: CallConfig, previous: Sequence[ChatMessage]) -> str | None:
    """The prompt, and with ``maintain_context`` the caller's previous conversation
    after it (a realtime model takes no chat history: it reads it as instructions)."""
    prompt = config.llm.system_prompt
    lines = [
        f"{'Caller' if m.role == 'user' else 'You'}: {m.content}"
        for m in previous
        if m.role in ("user", "assistant") and m.content
    ]
    if not config.maintain_context or not lines:
        return prompt
    earlier = "\n".join([_EARLIER, *lines])
    return f"{prompt}\n\n{earlier}" if prompt else earlier


def _expected_words(config: CallConfig) -> str | None:
    """``stt_settings.keyterms`` and the positively boosted ``keywords``, as the
    transcription's prompt (OpenAI: a list of words to expect)."""
    terms = [*config.stt.keyterms, *(word for word, boost in config.stt.keywords if boost > 0)]
    return ", ".join(dict.fromkeys(terms)) or None


def realtime_options(
    config: CallConfig,
    settings: Mapping[str, Any],
    audio: RealtimeAudio,
    tools: tuple[ToolSpec, ...],
    previous: Sequence[ChatMessage] = (),
) -> RealtimeOptions:
    """The session's set-up from the assistant's settings: the prompt (rendered with
    the call's variables; with ``maintain_context``, the caller's ``previous``
    conversation after it), ``realtime_settings``, the endpointing silence, the
    language, max_tokens, the sampling settings and the call's tools."""
    realtime = settings.get("realtime_settings") or {}
    return RealtimeOptions(
        instructions=_instructions(config, previous),
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
        transcription_prompt=_expected_words(config),
        # A handset or headset on a phone line; a laptop's microphone in a browser.
        noise_reduction=(
            ("near_field" if audio == "pcmu" else "far_field") if config.audio_denoising else None
        ),
        temperature=config.llm.temperature,
        top_p=config.llm.top_p,
    )


def realtime_session(
    config: CallConfig,
    settings: Mapping[str, Any],
    model: RealtimeModel,
    label: str,
    transport: Transport,
    clock: Clock,
    sink: EventSink,
    *,
    on_end: EndCallHook | None,
    custom_tools: tuple[ToolSpec, ...],
    run_custom_tools: ToolRunner | None,
    retrieve: Retriever | None = None,
    previous_conversation: Sequence[ChatMessage] = (),
) -> RealtimeSession:
    """A realtime call's session: μ-law on a phone line (8 kHz), else PCM 24 kHz; the
    built-in tools (``search_knowledge`` when the call has a knowledge base:
    ``retrieve``) and the call's custom tools offered as functions, as
    ``enabled_tools`` says."""
    audio: RealtimeAudio = "pcmu" if transport.sample_rate == 8000 else "pcm24"
    tools = offered_tools(config, custom_tools, can_search=retrieve is not None)
    options = realtime_options(config, settings, audio, tools, previous_conversation)
    return RealtimeSession(
        config,
        model,
        options,
        transport,
        clock,
        sink,
        label=label,
        on_end=on_end,
        run_custom_tools=run_custom_tools,
        retrieve=retrieve,
    )
