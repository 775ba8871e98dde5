"""Searching an assistant's knowledge base: for the search API and during calls.

``search_chunks`` embeds the query with the model that serves the assistant, searches
that model's vectors only, and keeps the hits at or above the similarity threshold.

``knowledge_retriever_for`` gives a call its ``Retriever``: on each final user turn the
session asks it for passages, and it returns the best ones (``search_limit``, above
``similarity_threshold``) that fit in ``context_window_tokens`` — each chunk's token
count is stored with it, so a call only counts the short source lines — with their
source line when ``include_metadata`` is on. Retrieval has a deadline: a slow or failing
search gives the turn no passages rather than a late answer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from callwright.domain.assistants.service import StoredAssistant
from callwright.domain.knowledge import repository
from callwright.domain.knowledge.context import KnowledgeContext
from callwright.domain.knowledge.embedders import OFFLINE_MODEL, EmbedderChoice, OpenAIKey
from callwright.domain.knowledge.repository import ChunkRow
from callwright.domain.knowledge.tokens import count_tokens, truncate_to_tokens
from callwright.engine.events import KnowledgeUsed, Passage
from callwright.engine.replies import Retriever
from callwright.providers.errors import ProviderError

__all__ = [
    "FRAMING_TOKENS",
    "KnowledgeRetriever",
    "chunk_metadata",
    "knowledge_record",
    "knowledge_retriever_for",
    "search_chunks",
]

logger = logging.getLogger(__name__)

FRAMING_TOKENS: Final = 40
"""Tokens reserved for the engine's words around the passages."""
_DEFAULT_TIMEOUT_S: Final = 1.5


def chunk_metadata(row: ChunkRow) -> dict[str, Any]:
    """Where a chunk comes from: document, position, offsets, page or heading."""
    return {
        "document_id": row.document_id,
        "document_name": row.document_name,
        "chunk_index": row.ordinal,
        **row.meta,
    }


async def search_chunks(
    context: KnowledgeContext,
    assistant_id: int,
    choice: EmbedderChoice,
    key: OpenAIKey | None,
    query: str,
    *,
    limit: int,
    threshold: float,
) -> list[tuple[ChunkRow, float]]:
    """The best ``limit`` chunks scoring at least ``threshold``, best first."""
    (vector,) = await context.embedder(choice, key).embed([query])
    hits = await context.indexes.search(
        context.session_factory, assistant_id, choice.model, vector, limit
    )
    hits = [hit for hit in hits if hit.score >= threshold]
    if not hits:
        return []
    async with context.session_factory() as session:
        rows = await repository.chunk_rows(session, assistant_id, [hit.chunk_id for hit in hits])
    # A chunk deleted since the index was synced is simply left out.
    return [(rows[hit.chunk_id], hit.score) for hit in hits if hit.chunk_id in rows]


def _source(row: ChunkRow) -> str:
    where = row.document_name
    if "page" in row.meta:
        pages = row.meta["page"], row.meta.get("page_end")
        where += f", pages {pages[0]}–{pages[1]}" if pages[1] else f", page {pages[0]}"
    if row.meta.get("heading"):
        where += f" › {row.meta['heading']}"
    return where


@dataclass
class KnowledgeRetriever:
    """An assistant's retrieval settings and embedder, bound for one or more calls."""

    context: KnowledgeContext
    assistant_id: int
    choice: EmbedderChoice
    key: OpenAIKey | None
    search_limit: int
    similarity_threshold: float
    context_window_tokens: int
    include_metadata: bool
    timeout_s: float = _DEFAULT_TIMEOUT_S

    async def __call__(self, query: str) -> Sequence[Passage]:
        try:
            async with asyncio.timeout(self.timeout_s):
                found = await search_chunks(
                    self.context,
                    self.assistant_id,
                    self.choice,
                    self.key,
                    query,
                    limit=self.search_limit,
                    threshold=self.similarity_threshold,
                )
        except TimeoutError:
            logger.warning(
                "assistant %s: retrieval took over %.1f s; this turn goes without passages",
                self.assistant_id,
                self.timeout_s,
            )
            return []
        except ProviderError as exc:
            logger.warning("assistant %s: retrieval failed: %s", self.assistant_id, exc)
            return []
        return self._fit(found)

    def _fit(self, found: list[tuple[ChunkRow, float]]) -> list[Passage]:
        """The passages, best first, that fit in the token budget."""
        budget = self.context_window_tokens - FRAMING_TOKENS
        sources = [f"[Source: {_source(row)}]" for row, _ in found] if self.include_metadata else []
        source_tokens = count_tokens(sources) if sources else [0] * len(found)
        passages: list[Passage] = []
        for index, (row, score) in enumerate(found):
            text = row.text
            tokens = row.token_count + source_tokens[index] + 1
            if tokens > budget:
                if passages or budget - source_tokens[index] < 20:
                    continue
                # The best passage alone is over the budget: give the part that fits.
                text = truncate_to_tokens(text, budget - source_tokens[index] - 1)
                tokens = budget
            shown = f"{sources[index]}\n{text}" if self.include_metadata else text
            passages.append(
                Passage(
                    text=shown,
                    score=round(score, 4),
                    chunk_id=row.id,
                    document_id=row.document_id,
                    source=_source(row),
                    tokens=tokens,
                )
            )
            budget -= tokens
        return passages


async def knowledge_retriever_for(
    context: KnowledgeContext,
    assistant: StoredAssistant,
    *,
    timeout_s: float = _DEFAULT_TIMEOUT_S,
) -> Retriever | None:
    """The retriever for a call of ``assistant``, or None when ``rag_settings.enabled``
    is off. Reconciles the documents with the settings (queueing re-processing), and
    warms the index, the embedder and the tokenizer so the first turn pays none of it."""
    rag = assistant.settings.rag_settings
    if not rag.enabled:
        return None
    async with context.session_factory() as session:
        queued = await context.reconcile(session, assistant)
        choice, key = await context.embedding_for(session, assistant)
        await session.commit()
    for document_id in queued:
        context.notify(document_id)
    await context.indexes.sync(context.session_factory, assistant.row.id, choice.model)
    if choice.model == OFFLINE_MODEL:
        await context.embedder(choice, key).embed(["warm up"])
    await asyncio.to_thread(count_tokens, ["warm up"])
    return KnowledgeRetriever(
        context=context,
        assistant_id=assistant.row.id,
        choice=choice,
        key=key,
        search_limit=rag.search_limit,
        similarity_threshold=rag.similarity_threshold,
        context_window_tokens=rag.context_window_tokens,
        include_metadata=rag.include_metadata,
        timeout_s=timeout_s,
    )


def knowledge_record(event: KnowledgeUsed) -> dict[str, Any]:
    """A ``KnowledgeUsed`` event as the call record lists it."""
    return {
        "query": event.query,
        "at": round(event.at, 3),
        "retrieval_ms": round(event.took_s * 1000, 1),
        "passages": [
            {
                "chunk_id": passage.chunk_id,
                "document_id": passage.document_id,
                "source": passage.source,
                "score": passage.score,
                "tokens": passage.tokens,
                "text": passage.text,
            }
            for passage in event.passages
        ],
    }
