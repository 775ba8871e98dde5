"""Turning a queued document into searchable chunks, once, whichever process does it.

A worker claims a document with a compare-and-set on its row (a random token and a
lease), so two workers — in this process or another server — never process the same
document at once, and a document whose worker died is taken again when its lease
expires. Then, off the event loop: fetch (URL documents), parse (in a worker process with
memory and time limits: ``parse_isolation``), chunk and count tokens (in a thread);
embed in batches; and in **one transaction**, only if the claim still holds, replace the
document's chunks, mark it ready and bump the assistant's generation. A failure marks
the document failed with the reason and leaves none of its chunks searchable; a
provider that is down or rate-limited gets the document retried later (at most
``MAX_ATTEMPTS`` times).

``DocumentProcessor.run`` is the long-lived part (owned by the app's TaskGroup): a few
workers on a bounded queue fed by ``submit`` (uploads in this process), plus a sweep
every ``poll_interval_s`` for documents queued by other processes, leases that expired,
retries that are due, and assistants whose settings changed.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import PurePosixPath
from typing import Any, Final
from urllib.parse import urlsplit

from sqlalchemy import select

from callwright.domain.assistants.service import load_assistant_for_call
from callwright.domain.knowledge import repository
from callwright.domain.knowledge.chunking import Chunk, chunk_document
from callwright.domain.knowledge.context import KnowledgeContext, processing_fingerprint
from callwright.domain.knowledge.documents import DocumentFormat, DocumentRejected, detect_format
from callwright.domain.knowledge.fetching import fetch_document
from callwright.domain.knowledge.index import encode_vector
from callwright.domain.knowledge.parse_isolation import ParserUnavailable
from callwright.domain.knowledge.tokens import count_tokens
from callwright.errors import CallwrightError, InternalError, NotFound
from callwright.providers.errors import ProviderRateLimited, ProviderTimeout, ProviderUnavailable
from callwright.store.base import utcnow
from callwright.store.models import Assistant, KnowledgeBase

__all__ = ["MAX_ATTEMPTS", "MAX_CHUNKS_PER_DOCUMENT", "DocumentProcessor", "Outcome"]

logger = logging.getLogger(__name__)

MAX_ATTEMPTS: Final = 3
MAX_CHUNKS_PER_DOCUMENT: Final = 20_000
_EMBED_BATCH: Final = 64
_RETRY_DELAY_S: Final = 30.0


@dataclass(frozen=True, slots=True)
class Outcome:
    """What processing one document came to (``skipped``: another worker has it, or
    it is not due)."""

    document_id: int
    status: str  # "ready" | "failed" | "pending" (retry later) | "skipped"
    error: str | None = None


class _Retry(Exception):
    """A transient failure: put the document back for a later attempt."""


@dataclass(frozen=True, slots=True)
class _Prepared:
    format: DocumentFormat
    content: bytes
    content_type: str | None
    char_count: int
    chunks: list[Chunk]
    tokens: list[int]


class DocumentProcessor:
    """Processes queued documents in the background, and on demand."""

    def __init__(
        self,
        context: KnowledgeContext,
        *,
        workers: int = 1,
        queue_size: int = 256,
        poll_interval_s: float = 30.0,
        lease_s: float = 600.0,
    ) -> None:
        self._context = context
        self._workers = workers
        self._queue: asyncio.Queue[int] = asyncio.Queue(maxsize=queue_size)
        self._queued: set[int] = set()
        self._poll_interval_s = poll_interval_s
        self._lease = timedelta(seconds=lease_s)

    # -- the long-lived part ---------------------------------------------------------

    async def run(self) -> None:
        """Work until cancelled. Registers itself as the context's ``notify``."""
        self._context.notify = self.submit
        try:
            async with asyncio.TaskGroup() as group:
                for index in range(self._workers):
                    group.create_task(self._work(), name=f"knowledge-worker-{index}")
                group.create_task(self._sweep_forever(), name="knowledge-sweep")
        finally:
            self._context.notify = lambda _document_id: None

    def submit(self, document_id: int) -> None:
        """Process ``document_id`` soon (once, however often it is submitted while it
        waits). A full queue drops it: the sweep finds it."""
        if document_id in self._queued:
            return
        try:
            self._queue.put_nowait(document_id)
        except asyncio.QueueFull:
            logger.warning("knowledge queue full; document %s waits for the sweep", document_id)
            return
        self._queued.add(document_id)

    async def _work(self) -> None:
        while True:
            document_id = await self._queue.get()
            # Out of the waiting set before processing: a re-process asked for meanwhile
            # queues it again.
            self._queued.discard(document_id)
            try:
                await self.process(document_id)
            except Exception:
                # One document's bug must not stop the worker; the lease brings it back.
                logger.exception("processing knowledge document %s failed", document_id)

    async def _sweep_forever(self) -> None:
        while True:
            try:
                for document_id in await self.sweep():
                    self.submit(document_id)
            except Exception:
                logger.exception("knowledge sweep failed")
            await asyncio.sleep(self._poll_interval_s)

    async def sweep(self) -> list[int]:
        """Reconcile the assistants whose settings changed since last time; returns the
        documents due for processing (queued, not leased or backing off)."""
        context = self._context
        async with context.session_factory() as session:
            query = (
                select(KnowledgeBase.assistant_id)
                .join(Assistant, Assistant.id == KnowledgeBase.assistant_id)
                .where(
                    Assistant.deleted_at.is_(None),
                    (KnowledgeBase.reconciled_at.is_(None))
                    | (Assistant.updated_at > KnowledgeBase.reconciled_at),
                )
            )
            for assistant_id in (await session.execute(query)).scalars().all():
                assistant = await load_assistant_for_call(session, context.box, assistant_id)
                await context.reconcile(session, assistant)
            await session.commit()
            return await repository.due_document_ids(session, utcnow(), self._queue.maxsize)

    async def process_due(self) -> list[Outcome]:
        """Process every due document now, here (the CLI's way: no workers)."""
        return [await self.process(document_id) for document_id in await self.sweep()]

    # -- one document ------------------------------------------------------------------

    async def process(self, document_id: int) -> Outcome:
        """Claim and process one document now, if it is due and nobody else has it."""
        context = self._context
        token = secrets.token_hex(16)
        now = utcnow()
        async with context.session_factory() as session:
            claimed = await repository.claim_document(
                session, document_id, token, now, now + self._lease
            )
            await session.commit()
        if not claimed:
            return Outcome(document_id, "skipped")
        try:
            return await self._process_claimed(document_id, token)
        except _Retry as retry:
            return await self._release(document_id, token, retry)
        except InternalError as exc:  # the server's set-up, not the document: as below
            logger.exception("processing knowledge document %s failed", document_id)
            return await self._fail(document_id, token, _internal_error(exc))
        except CallwrightError as exc:
            # Parse and fetch failures, limits, a missing model, a refused key (a
            # ProviderError): the reason is the document's error, for the user to act on.
            return await self._fail(document_id, token, str(exc))
        except Exception as exc:
            logger.exception("processing knowledge document %s failed", document_id)
            return await self._fail(document_id, token, _internal_error(exc))

    async def _process_claimed(self, document_id: int, token: str) -> Outcome:
        context = self._context
        async with context.session_factory() as session:
            document = await repository.document_with_content(session, document_id, token)
            if document is None:
                return Outcome(document_id, "skipped")
            try:
                assistant = await load_assistant_for_call(
                    session, context.box, document.assistant_id
                )
            except NotFound as exc:
                raise DocumentRejected("the assistant was deleted") from exc
            choice, key = await context.embedding_for(session, assistant)
            rag = assistant.settings.rag_settings
            source = (document.source, document.url, document.content, document.format)
            declared_type, name = document.content_type, document.name
        prepared = await self._prepare(source, declared_type, name, rag)
        embedder = context.embedder(choice, key)
        vectors = await self._embed(embedder, prepared.chunks, document_id)
        rows = [
            {
                "document_id": document_id,
                "assistant_id": assistant.row.id,
                "ordinal": index,
                "text": chunk.text,
                "meta": chunk.metadata,
                "token_count": tokens,
                "embedding_model": choice.model,
                "embedding": encode_vector(vector),
            }
            for index, (chunk, tokens, vector) in enumerate(
                zip(prepared.chunks, prepared.tokens, vectors, strict=True)
            )
        ]
        now = utcnow()
        fields: dict[str, Any] = {
            "status": "ready",
            "error": None,
            "format": prepared.format,
            "content_type": prepared.content_type,
            "size_bytes": len(prepared.content),
            "sha256": hashlib.sha256(prepared.content).hexdigest(),
            "chunk_count": len(rows),
            "char_count": prepared.char_count,
            "processed_with": processing_fingerprint(rag, choice),
            "claim_token": None,
            "lease_until": None,
            "queued_at": None,
            "processed_at": now,
            "updated_at": now,
        }
        if source[0] == "url":
            fields["content"] = prepared.content
        async with context.session_factory() as session, session.begin():
            # The claim check is the transaction's first write: it takes the write lock
            # (SQLite) or the row lock (PostgreSQL) before the chunks are swapped.
            if not await repository.finish_document(session, document_id, token, fields):
                await session.rollback()  # the lease expired and another worker took over
                return Outcome(document_id, "skipped")
            await repository.replace_chunks(session, document_id, assistant.row.id, rows)
        logger.info(
            "knowledge document %s of assistant %s: %d chunks with %s",
            document_id,
            assistant.row.id,
            len(rows),
            choice.model,
        )
        return Outcome(document_id, "ready")

    async def _prepare(
        self,
        source: tuple[str, str | None, bytes | None, str | None],
        declared_type: str | None,
        name: str,
        rag: Any,
    ) -> _Prepared:
        kind, url, content, stored_format = source
        content_type = declared_type
        if kind == "url" and url is not None:
            fetched = await fetch_document(
                url,
                max_bytes=self._context.max_document_bytes,
                outbound=self._context.outbound,
                transport=self._context.http_transport,
            )
            content, content_type = fetched.content, fetched.content_type
            if stored_format is None:
                stored_format = detect_format(
                    PurePosixPath(urlsplit(fetched.url).path).name or name, content_type
                )
        if content is None or stored_format is None:
            raise DocumentRejected("the document has no content")
        document_format: DocumentFormat = stored_format  # type: ignore[assignment]
        data = content
        try:
            # In a worker process with memory and time limits, never in this one.
            parsed = await self._context.parser.parse(data, document_format, name=name)
        except ParserUnavailable as exc:
            raise _Retry(str(exc)) from exc

        def work() -> _Prepared:
            # Chunking and counting work on at most the text limit's characters.
            chunks = chunk_document(
                parsed, rag.chunking_strategy, rag.chunk_size, rag.chunk_overlap
            )
            if len(chunks) > MAX_CHUNKS_PER_DOCUMENT:
                raise DocumentRejected(
                    f"the document makes {len(chunks)} chunks at chunk_size {rag.chunk_size}; "
                    f"the limit is {MAX_CHUNKS_PER_DOCUMENT}"
                )
            tokens = count_tokens([chunk.text for chunk in chunks])
            return _Prepared(document_format, data, content_type, parsed.char_count, chunks, tokens)

        return await asyncio.to_thread(work)

    async def _embed(
        self, embedder: Any, chunks: Sequence[Chunk], document_id: int
    ) -> list[list[float]]:
        vectors: list[list[float]] = []
        for start in range(0, len(chunks), _EMBED_BATCH):
            batch = [chunk.embedding_text for chunk in chunks[start : start + _EMBED_BATCH]]
            try:
                vectors.extend(await embedder.embed(batch))
            except (ProviderUnavailable, ProviderRateLimited, ProviderTimeout) as exc:
                raise _Retry(str(exc)) from exc
        dimensions = {len(vector) for vector in vectors}
        if len(vectors) != len(chunks) or len(dimensions) > 1:
            raise DocumentRejected(
                f"the embedder returned {len(vectors)} vectors of sizes {sorted(dimensions)} "
                f"for {len(chunks)} chunks"
            )
        return vectors

    async def _fail(self, document_id: int, token: str, reason: str) -> Outcome:
        logger.warning("knowledge document %s failed: %s", document_id, reason)
        async with self._context.session_factory() as session, session.begin():
            await repository.release_document(
                session, document_id, token, status="failed", error=reason, drop_chunks=True
            )
        return Outcome(document_id, "failed", reason)

    async def _release(self, document_id: int, token: str, retry: _Retry) -> Outcome:
        async with self._context.session_factory() as session:
            attempts = await repository.document_attempts(session, document_id)
        if attempts >= MAX_ATTEMPTS:
            return await self._fail(
                document_id, token, f"gave up after {attempts} attempts: {retry}"
            )
        delay = _RETRY_DELAY_S * 2 ** (attempts - 1)
        async with self._context.session_factory() as session, session.begin():
            await repository.release_document(
                session,
                document_id,
                token,
                status="pending",
                error=f"will retry: {retry}",
                retry_at=utcnow() + timedelta(seconds=delay),
            )
        logger.info("knowledge document %s: retry in %.0f s (%s)", document_id, delay, retry)
        return Outcome(document_id, "pending", str(retry))


def _internal_error(exc: Exception) -> str:
    """A document's error when processing crashed: the type only (details are logged)."""
    return f"internal error while processing: {type(exc).__name__}"
