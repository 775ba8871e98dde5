"""Which provider serves a call, picked from the assistant's settings (the engine sees
only protocols; this is the one place that knows the concrete adapters).

For each kind the assistant's vendor serves the call when its key resolves (the
assistant's own, its organization's stored credential, the server's environment:
``domain.credentials.resolution``); otherwise the offline provider of the same kind
does, and the ``ProviderChoice`` says why, rather than the call failing mid-way:

| kind | cloud adapters | offline provider |
|---|---|---|
| LLM | the catalog's (``providers.vendors``) | ``local``: llama.cpp (local-llm extra) |
| STT | the catalog's | ``whisper-local``: whisper tiny.en |
| TTS | the catalog's | Piper (worker process), else espeak |
| VAD | | Silero (ONNX) |
| end of turn (``turn_detection: smart``) | | Smart Turn v3.2 (ONNX), else the words |

LLM fallbacks become adapters too, each asking for its own model; when the primary
cannot be served, the first usable fallback answers first, and the local model serves
only when no cloud LLM can. Each cloud LLM is named by its label (``openai:gpt-4o``,
``#n`` added when two are alike), which is what a turn's record says answered it. A
cloud transcriber has the offline one behind it, and every voice the offline voices
(Piper when installed, then espeak): the session fails over to them mid-call
(``engine.stt_fallback``, ``engine.tts_fallback``).

Models are heavy and clients keep connections, so ``OfflineProviders`` and
``CloudProviders`` hold one of each per process, shared by every call, and close them
on shutdown.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callwright.domain.credentials.lookup import organization_credentials
from callwright.domain.credentials.resolution import OFFLINE_STT, Resolution, Resolved, resolve
from callwright.engine.session_providers import SessionProviders
from callwright.providers.errors import ProviderError
from callwright.providers.llm.settings_support import unsupported_llm_settings
from callwright.providers.protocols import LLM, STT, TTS
from callwright.providers.stt.transcriber_settings import unsupported_stt_settings
from callwright.providers.tts.voice_settings import unsupported_voice_settings
from callwright.providers.turn import TurnModel
from callwright.providers.vendors import CATALOG
from callwright.runtime.providers_cloud import CloudProviders, NamedLLM, PinnedModel, llm_label
from callwright.runtime.providers_offline import OfflineProviders, offline_voice
from callwright.security.crypto import SecretBox
from callwright.security.outbound import OutboundPolicy
from callwright.settings import Settings
from callwright.store.database import create_engine, create_session_factory

__all__ = [
    "CredentialSource",
    "ProviderChoice",
    "ProviderFactory",
    "build_providers",
    "cloud_provider_factory",
    "hearing_rate",
    "offline_provider_factory",
    "process_provider_factory",
    "stored_credentials",
]

logger = logging.getLogger(__name__)


ProviderFactory = Callable[
    [Mapping[str, Any], int, int], Awaitable[tuple["SessionProviders", list["ProviderChoice"]]]
]
"""Providers for one call: (the assistant's decrypted settings, its organization id, the
transport's sample rate) → the providers and what was chosen for each kind."""

CredentialSource = Callable[[int], Awaitable[Mapping[str, Mapping[str, Any]]]]
"""An organization's stored credentials, decrypted, by provider."""

P = TypeVar("P", LLM, STT, TTS)
Served = TypeVar("Served", STT, TTS)

# What an adapter raises when it cannot be set up: a half-installed module, a value
# it refuses (a malformed endpoint or region), a missing key.
_SETUP_ERRORS = (ImportError, ValueError, ProviderError)


@dataclass(frozen=True, slots=True)
class ProviderChoice:
    """What a call asked for, what serves it, and why (for the call record). The
    reason names where a key came from, never the key."""

    kind: str
    requested: str
    chosen: str
    reason: str


def hearing_rate(transport_rate: int) -> int:
    """The rate a call's caller is heard at (the VAD's and, where its vendor takes it,
    the transcriber's): a phone line's own 8 kHz, else 16 kHz (decisions 012, 028)."""
    return 8_000 if transport_rate == 8_000 else 16_000


def build_providers(
    settings: Mapping[str, Any],
    offline: OfflineProviders,
    *,
    cloud: CloudProviders | None = None,
    credentials: Mapping[str, Mapping[str, Any]] | None = None,
    server: Settings | None = None,
    sample_rate: int = 16_000,
) -> tuple[SessionProviders, list[ProviderChoice]]:
    """Providers for one call of an assistant (its decrypted, canonical settings
    document), with its organization's ``credentials`` and the ``server``'s settings.
    Without ``cloud`` every kind runs offline."""
    from callwright.providers.vad.silero import SileroVAD

    resolution = resolve(settings, credentials or {}, server)
    heard_at = hearing_rate(sample_rate)
    picker = _Picker(offline, cloud)
    llms, choices = picker.llms(resolution)
    stt, stt_choice = picker.stt(resolution.stt, heard_at)
    tts, tts_choice = picker.tts(resolution.tts, sample_rate)
    # Said in the record, not ignored silently: the vendor has no equivalent.
    llm_choices = zip(choices, (resolution.llm, *resolution.fallbacks), strict=True)
    choices = [
        _noted(choice, _llm_unsupported(choice, asked, settings)) for choice, asked in llm_choices
    ]
    stt_choice = _noted(
        stt_choice, unsupported_stt_settings(stt_choice.chosen, settings["stt_settings"])
    )
    tts_choice = _noted(
        tts_choice, unsupported_voice_settings(tts_choice.chosen, settings["tts_settings"])
    )
    choices += [stt_choice, tts_choice]
    for choice in choices:
        if choice.requested != choice.chosen:
            logger.info(
                "%s: %s served by %s (%s)",
                choice.kind,
                choice.requested,
                choice.chosen,
                choice.reason,
            )
    # Silero's 8 kHz model hears all of a phone line, for 0.8× the cost of the 16 kHz
    # one and no resampling on the way in.
    window_ms = (server or Settings()).vad_batch_window_ms
    vad = SileroVAD(heard_at, batch_window_s=window_ms / 1000)
    turn_model = None
    if settings["stt_settings"].get("turn_detection") == "smart":
        turn_model, turn_choice = _turn_model()
        choices.append(turn_choice)
    providers = SessionProviders(
        llms=tuple(llms),
        stt=stt,
        tts=tts,
        vad=vad,
        stt_fallbacks=picker.stt_fallbacks(stt),
        tts_fallbacks=picker.tts_fallbacks(tts),
        turn_model=turn_model,
    )
    return providers, choices


def _turn_model() -> tuple[TurnModel | None, ProviderChoice]:
    """turn_detection "smart": the process's Smart Turn model, or, when it is not
    installed, the words alone (the choice says so)."""
    try:
        from callwright.providers.turn.smart_turn_v3 import PROVIDER, smart_turn_model

        model = smart_turn_model()
    except (ImportError, ProviderError) as exc:
        logger.info("turn_detection smart without its audio model: %s", exc)
        reason = f"the audio model is not available ({exc}); the words alone decide"
        return None, ProviderChoice("turn", "smart-turn-v3.2", "words", reason)
    return model, ProviderChoice("turn", PROVIDER, PROVIDER, "turn_detection: smart")


class _Picker:
    """Cloud adapter when its values resolve and it can be set up, else offline."""

    def __init__(self, offline: OfflineProviders, cloud: CloudProviders | None) -> None:
        self._offline = offline
        self._cloud = cloud

    def _cloud_adapter(
        self, resolved: Resolved, create: Callable[[CloudProviders], P]
    ) -> tuple[P | None, str]:
        """The cloud adapter ``create`` makes for ``resolved``, or None and why not."""
        if self._cloud is None:
            return None, "cloud providers are not enabled in this process"
        if (problem := resolved.problem()) is not None:
            return None, problem
        try:
            return create(self._cloud), resolved.reason()
        except _SETUP_ERRORS as exc:
            return None, _setup_failed(resolved, exc)

    def _llm(self, resolved: Resolved, *, pinned: bool) -> tuple[LLM | None, str]:
        if resolved.offline:
            return self._offline.llm(), resolved.reason()
        llm, why = self._cloud_adapter(resolved, lambda cloud: cloud.llm(resolved))
        if llm is None:
            return None, why
        label = llm_label(resolved.vendor, resolved.model)
        named = PinnedModel(llm, resolved.model, label) if pinned else NamedLLM(llm, label)
        return named, why

    def llms(self, resolution: Resolution) -> tuple[list[LLM], list[ProviderChoice]]:
        primary = resolution.llm
        lead, reason = self._llm(primary, pinned=False)
        llms = [lead] if lead is not None else []
        fallback_choices = []
        for fallback in resolution.fallbacks:
            llm, why = self._llm(fallback, pinned=True)
            if llm is not None:
                llms.append(llm)
            chosen = _vendor(llm) if llm is not None else "none"
            fallback_choices.append(ProviderChoice("llm-fallback", fallback.vendor, chosen, why))
        if lead is not None:
            choice = ProviderChoice("llm", primary.vendor, _vendor(lead), reason)
        elif llms:
            choice = ProviderChoice(
                "llm",
                primary.vendor,
                _vendor(llms[0]),
                f"{reason}; the first usable fallback leads",
            )
        else:
            local = self._offline.llm()
            llms.append(local)
            choice = ProviderChoice("llm", primary.vendor, local.name, f"offline default: {reason}")
        _tell_apart(llms)
        return llms, [choice, *fallback_choices]

    def stt_fallbacks(self, stt: STT) -> tuple[STT, ...]:
        """The offline transcriber behind a cloud one (when the offline extra is in)."""
        if stt.name == OFFLINE_STT:
            return ()
        try:
            return (self._offline.stt(),)
        except ImportError as exc:
            logger.info("no offline transcriber to fall back to: %s", exc)
            return ()

    def tts_fallbacks(self, tts: TTS) -> tuple[TTS, ...]:
        """The offline voices behind the call's voice: Piper (when installed), espeak."""
        names = dict.fromkeys(name for name in (offline_voice("piper"), "espeak"))
        return tuple(self._offline.tts(name) for name in names if name != tts.name)

    def stt(self, resolved: Resolved, sample_rate: int) -> tuple[STT, ProviderChoice]:
        return self._served(
            resolved,
            lambda cloud: cloud.stt(resolved, sample_rate),
            lambda _requested: self._offline.stt(),
        )

    def tts(self, resolved: Resolved, sample_rate: int) -> tuple[TTS, ProviderChoice]:
        return self._served(
            resolved,
            lambda cloud: cloud.tts(resolved, sample_rate),
            lambda requested: self._offline.tts(offline_voice(requested)),
        )

    def _served(
        self,
        resolved: Resolved,
        create: Callable[[CloudProviders], Served],
        offline: Callable[[str], Served],
    ) -> tuple[Served, ProviderChoice]:
        """A transcriber or voice: the vendor's adapter, else the offline one of the
        kind (the one asked for, or the default), and the choice that says why."""
        kind, requested = resolved.kind, resolved.vendor
        if resolved.offline:
            provider = offline(requested)
            reason = resolved.reason()
            if provider.name != requested:
                reason = f"{requested.capitalize()} is not installed"
            return provider, ProviderChoice(kind, requested, provider.name, reason)
        adapter, why = self._cloud_adapter(resolved, create)
        if adapter is not None:
            return adapter, ProviderChoice(kind, requested, requested, why)
        provider = offline(CATALOG.offline_name(resolved.catalog_kind))
        return provider, ProviderChoice(kind, requested, provider.name, f"offline default: {why}")


def _llm_unsupported(
    choice: ProviderChoice, asked: Resolved, settings: Mapping[str, Any]
) -> list[str]:
    """What the LLM serving ``choice`` drops: the one asked for, or the offline one."""
    if choice.chosen == asked.vendor:
        return unsupported_llm_settings(asked.vendor, asked.model, asked.base_url, settings)
    if choice.chosen == CATALOG.offline_name("llm"):
        return unsupported_llm_settings(choice.chosen, None, None, settings)
    return []


def _noted(choice: ProviderChoice, unsupported: list[str]) -> ProviderChoice:
    """The choice, its reason naming the settings its vendor cannot honour."""
    if not unsupported:
        return choice
    note = f"not supported by {choice.chosen}, no effect: {', '.join(unsupported)}"
    return replace(choice, reason=f"{choice.reason}; {note}")


def _vendor(llm: LLM) -> str:
    """The vendor behind a named LLM (what the call's provider choices record)."""
    inner = llm.inner if isinstance(llm, NamedLLM | PinnedModel) else llm
    return inner.name


def _tell_apart(llms: list[LLM]) -> None:
    """Two LLMs of one label (one vendor and model, two keys or endpoints) get their
    position added, so that the record still says which one answered."""
    seen: set[str] = set()
    for position, llm in enumerate(llms, start=1):
        if llm.name in seen and isinstance(llm, NamedLLM | PinnedModel):
            llm.name = f"{llm.name}#{position}"
        seen.add(llm.name)


def _setup_failed(resolved: Resolved, exc: BaseException) -> str:
    # Adapters' messages name the value they refuse (an endpoint, a region), never a key.
    logger.warning("%s adapter %r could not be set up: %s", resolved.kind, resolved.vendor, exc)
    return f"the {resolved.vendor} adapter could not be set up ({type(exc).__name__}: {exc})"


def offline_provider_factory(offline: OfflineProviders) -> ProviderFactory:
    """A provider factory on this process's offline models only (no keys consulted)."""

    async def build(
        settings: Mapping[str, Any], organization_id: int, sample_rate: int
    ) -> tuple[SessionProviders, list[ProviderChoice]]:
        return build_providers(settings, offline, sample_rate=sample_rate)

    return build


def stored_credentials(
    session_factory: async_sessionmaker[AsyncSession], box: SecretBox
) -> CredentialSource:
    """Organization credentials read from the database, once per call."""

    async def load(organization_id: int) -> Mapping[str, Mapping[str, Any]]:
        async with session_factory() as session:
            return await organization_credentials(session, box, organization_id)

    return load


def cloud_provider_factory(
    *,
    server: Settings,
    offline: OfflineProviders,
    cloud: CloudProviders,
    credentials: CredentialSource,
) -> ProviderFactory:
    """The call runtime's provider factory: each kind on its vendor's adapter when its
    key resolves (assistant, organization, environment), else offline."""

    async def build(
        settings: Mapping[str, Any], organization_id: int, sample_rate: int
    ) -> tuple[SessionProviders, list[ProviderChoice]]:
        stored = await credentials(organization_id)
        return build_providers(
            settings,
            offline,
            cloud=cloud,
            credentials=stored,
            server=server,
            sample_rate=sample_rate,
        )

    return build


@contextlib.asynccontextmanager
async def process_provider_factory(
    server: Settings, offline: OfflineProviders
) -> AsyncIterator[ProviderFactory]:
    """The server's provider factory for a one-off process (``callwright simulate``),
    with its own database engine for the credentials and its own cloud adapters,
    both closed on exit."""
    engine = create_engine(server.resolved_database_url)
    cloud = CloudProviders(OutboundPolicy.from_settings(server))
    credentials = stored_credentials(
        create_session_factory(engine), SecretBox(server.resolved_secret_key())
    )
    try:
        yield cloud_provider_factory(
            server=server, offline=offline, cloud=cloud, credentials=credentials
        )
    finally:
        await cloud.aclose()
        await engine.dispose()
