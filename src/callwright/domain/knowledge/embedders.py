"""Which embedding model serves ``rag_settings.embedding_model``.

- ``all-MiniLM-L6-v2``: the offline MiniLM (int8 ONNX, no torch, no network);
- ``text-embedding-3-small`` / ``-3-large`` / ``-ada-002``: OpenAI when a key is found,
  else the offline MiniLM (the choice says why).

The OpenAI key is looked up like a call's (decisions 010 and 013): the assistant's own
(``llm_provider`` openai, ``llm_provider_config.api_key`` and ``base_url``), then the
organization's stored ``openai`` credential, then the server's ``OPENAI_API_KEY`` /
``OPENAI_BASE_URL``; the key goes only to the endpoint stored beside it, and a user's
endpoint is reached only through the operator's outbound-URL policy.

Every chunk stores the model that actually embedded it, and a search embeds its query
with the model that serves the assistant now; an index holds one model's vectors only.
So when the served model changes (the setting, or a key appearing), documents
embedded by another model are re-processed, and never compared across models.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from sqlalchemy.ext.asyncio import AsyncSession

from callwright.providers.protocols import Embeddings
from callwright.security.crypto import SecretBox
from callwright.security.outbound import OutboundPolicy, OutboundRefused
from callwright.settings import Settings

__all__ = [
    "OFFLINE_MODEL",
    "OPENAI_MODELS",
    "EmbedderChoice",
    "EmbedderRegistry",
    "OpenAIKey",
    "openai_key_for",
]

OFFLINE_MODEL: Final = "all-MiniLM-L6-v2"
OPENAI_MODELS: Final = frozenset(
    {"text-embedding-3-small", "text-embedding-3-large", "text-embedding-ada-002"}
)


@dataclass(frozen=True, slots=True)
class OpenAIKey:
    api_key: str
    base_url: str | None = None
    # The policy every connection goes through when the endpoint is a user's.
    outbound: OutboundPolicy | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class EmbedderChoice:
    """What was asked for, the model that serves it (stored on every chunk), and why."""

    requested: str
    model: str
    reason: str


OpenAIFactory = Callable[[OpenAIKey, str], Embeddings]


def _offline() -> Embeddings:
    from callwright.providers.embeddings.minilm import MiniLMEmbeddings

    return MiniLMEmbeddings()


def _openai(key: OpenAIKey, model: str) -> Embeddings:
    # Imported on use: the OpenAI adapter is optional and the offline path must not need it.
    from callwright.providers.embeddings.openai import OpenAIEmbeddings

    if key.outbound is not None and key.base_url is not None:
        try:
            key.outbound.check_url(key.base_url)
        except OutboundRefused as exc:
            raise ValueError(f"base_url refused: {exc}") from exc
    embeddings: Embeddings = OpenAIEmbeddings(
        key.api_key, model=model, base_url=key.base_url, outbound=key.outbound
    )
    return embeddings


class EmbedderRegistry:
    """Hands out one embedder per (model, key); tests inject factories."""

    def __init__(
        self,
        *,
        offline: Callable[[], Embeddings] = _offline,
        openai: OpenAIFactory = _openai,
    ) -> None:
        self._offline_factory = offline
        self._openai_factory = openai
        self._instances: dict[tuple[str, str], Embeddings] = {}

    def choose(self, requested: str, key: OpenAIKey | None) -> EmbedderChoice:
        """The model that serves ``requested`` with ``key`` (cheap; nothing is loaded)."""
        if requested in OPENAI_MODELS:
            if key is not None:
                return EmbedderChoice(requested, requested, "requested")
            return EmbedderChoice(
                requested, OFFLINE_MODEL, "offline default: no OpenAI API key is configured"
            )
        if requested == OFFLINE_MODEL:
            return EmbedderChoice(requested, OFFLINE_MODEL, "requested")
        return EmbedderChoice(requested, OFFLINE_MODEL, f"offline default: {requested} is unknown")

    def embedder(self, choice: EmbedderChoice, key: OpenAIKey | None) -> Embeddings:
        """The embedder for ``choice`` (created once per process and key)."""
        if choice.model == OFFLINE_MODEL:
            cache_key = (OFFLINE_MODEL, "")
            if cache_key not in self._instances:
                self._instances[cache_key] = self._offline_factory()
            return self._instances[cache_key]
        if key is None:
            raise ValueError(f"{choice.model} needs an OpenAI key")
        guarded = key.outbound is not None
        fingerprint = hashlib.sha256(
            f"{key.api_key}\0{key.base_url}\0{guarded}".encode()
        ).hexdigest()
        cache_key = (choice.model, fingerprint)
        if cache_key not in self._instances:
            self._instances[cache_key] = self._openai_factory(key, choice.model)
        return self._instances[cache_key]

    async def aclose(self) -> None:
        instances, self._instances = list(self._instances.values()), {}
        for instance in instances:
            closer: Any = getattr(instance, "aclose", None)
            if closer is not None:
                await closer()


async def openai_key_for(
    session: AsyncSession,
    box: SecretBox,
    organization_id: int,
    settings: Mapping[str, Any],
    server: Settings | None,
) -> OpenAIKey | None:
    """The OpenAI key (and endpoint) an assistant's embeddings use, resolved like every
    call provider (decision 010): its own when it is an openai assistant, its
    organization's ``openai`` credential, the server's ``OPENAI_API_KEY``. ``settings``
    is the assistant's decrypted settings document."""
    from callwright.domain.credentials.lookup import organization_credential
    from callwright.domain.credentials.resolution import resolve

    credential = await organization_credential(session, box, organization_id, "openai")
    # Resolve as if retrieval asked for an OpenAI model: the question is only "which
    # key would serve it"; whether OpenAI serves at all is ``EmbedderRegistry.choose``'s.
    rag = {**settings.get("rag_settings", {}), "enabled": True}
    rag["embedding_model"] = "text-embedding-3-small"
    document = {**settings, "rag_settings": rag}
    resolved = resolve(document, {"openai": credential} if credential else {}, server).embeddings
    if resolved is None or resolved.api_key is None:
        return None
    guard = OutboundPolicy.from_settings(server or Settings()) if resolved.tenant_endpoint else None
    return OpenAIKey(resolved.api_key, resolved.base_url, guard)
