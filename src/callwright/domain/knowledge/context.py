"""What every part of the knowledge base shares in one process: the database, the
secret box, the embedders, the vector indexes, the URL fetcher's options, the document
parser's worker limits; and the rules that tie an assistant's ``rag_settings`` to its documents."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

import httpx
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callwright.domain.assistants.service import StoredAssistant
from callwright.domain.knowledge.embedders import (
    EmbedderChoice,
    EmbedderRegistry,
    OpenAIKey,
    openai_key_for,
)
from callwright.domain.knowledge.index import VectorIndexes
from callwright.domain.knowledge.parse_isolation import WorkerParser
from callwright.providers.protocols import Embeddings
from callwright.security.crypto import SecretBox
from callwright.security.outbound import STRICT, OutboundPolicy
from callwright.settings import Settings
from callwright.store.base import utcnow
from callwright.store.models import KnowledgeBase, KnowledgeDocument

__all__ = ["MAX_DOCUMENT_BYTES", "KnowledgeContext", "processing_fingerprint"]

logger = logging.getLogger(__name__)

MAX_DOCUMENT_BYTES: Final = 20 * 1024 * 1024
"""The largest document accepted, uploaded or fetched (413 beyond)."""


def processing_fingerprint(rag: Any, choice: EmbedderChoice) -> dict[str, Any]:
    """What a document's chunks depend on: re-process when any of it changes."""
    return {
        "embedding_model": choice.model,
        "chunking_strategy": rag.chunking_strategy,
        "chunk_size": rag.chunk_size,
        "chunk_overlap": rag.chunk_overlap,
    }


@dataclass
class KnowledgeContext:
    """One per app (``app.state.knowledge``) or CLI command: its vector indexes are
    caches of one database."""

    session_factory: async_sessionmaker[AsyncSession]
    box: SecretBox
    embedders: EmbedderRegistry = field(default_factory=EmbedderRegistry)
    indexes: VectorIndexes = field(default_factory=VectorIndexes)
    # URL documents are fetched as the operator's outbound-URL policy allows.
    outbound: OutboundPolicy = STRICT
    http_transport: httpx.AsyncBaseTransport | None = None
    max_document_bytes: int = MAX_DOCUMENT_BYTES
    # The server's settings: where the environment's OpenAI key comes from.
    settings: Settings | None = None
    # Tells the running processor (if any) about a document to process now; without
    # one, queued documents wait for a processor's next sweep.
    notify: Callable[[int], None] = field(default=lambda _document_id: None)
    # Parses documents in worker processes, within the settings' knowledge_parser_*
    # and knowledge_max_unpacked_bytes limits.
    parser: WorkerParser = field(init=False)

    def __post_init__(self) -> None:
        self.parser = WorkerParser.from_settings(self.settings)

    async def embedding_for(
        self, session: AsyncSession, assistant: StoredAssistant
    ) -> tuple[EmbedderChoice, OpenAIKey | None]:
        """The model that serves the assistant's embeddings now, and its key."""
        settings = assistant.settings
        key = await openai_key_for(
            session,
            self.box,
            assistant.row.organization_id,
            settings.model_dump(mode="json"),
            self.settings,
        )
        return self.embedders.choose(settings.rag_settings.embedding_model, key), key

    def embedder(self, choice: EmbedderChoice, key: OpenAIKey | None) -> Embeddings:
        return self.embedders.embedder(choice, key)

    async def reconcile(self, session: AsyncSession, assistant: StoredAssistant) -> list[int]:
        """Compare the assistant's documents with its rag_settings: documents whose
        chunks were made with other settings (or another embedding model) go back to
        pending — queued when ``auto_process`` — and their current chunks stay
        searchable until replaced. Returns the ids queued; the caller commits, then
        notifies. Flushes only."""
        choice, _ = await self.embedding_for(session, assistant)
        rag = assistant.settings.rag_settings
        wanted = processing_fingerprint(rag, choice)
        now = utcnow()
        query = select(KnowledgeDocument).where(KnowledgeDocument.assistant_id == assistant.row.id)
        queued: list[int] = []
        for document in (await session.execute(query)).scalars():
            stale = document.status == "ready" and document.processed_with != wanted
            waiting = document.status == "pending" and document.queued_at is None
            if stale:
                document.status = "pending"
                document.updated_at = now
                document.queued_at = None
            if (stale or waiting) and rag.auto_process:
                document.queued_at = now
                queued.append(document.id)
        # Written only when the settings changed since the last look: a read request
        # should not take SQLite's write lock for nothing.
        reconciled = select(KnowledgeBase.reconciled_at).where(
            KnowledgeBase.assistant_id == assistant.row.id
        )
        base = (await session.execute(reconciled)).first()
        if base is not None and (base[0] is None or base[0] < assistant.row.updated_at):
            await session.execute(
                update(KnowledgeBase)
                .where(KnowledgeBase.assistant_id == assistant.row.id)
                .values(reconciled_at=now)
            )
        await session.flush()
        if queued:
            logger.info(
                "assistant %s: %d document(s) queued for re-processing with %s",
                assistant.row.id,
                len(queued),
                wanted,
            )
        return queued
