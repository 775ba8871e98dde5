"""Rules of an assistant's knowledge base: adding documents (upload, URL, text),
listing, deleting, re-processing, searching.

A document is reached only through an assistant the principal may see (another
tenant's assistant or document is a 404). Documents are stored ``pending``; when the
assistant's ``rag_settings.auto_process`` is on they are queued for the background
processor at once, otherwise they wait for ``process``. Services flush; the request's
unit of work commits, and only then is the processor told (``notify`` after commit).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncSession

from callwright.domain.assistants.service import AssistantService, StoredAssistant
from callwright.domain.knowledge.context import KnowledgeContext
from callwright.domain.knowledge.documents import DocumentFormat, DocumentRejected, detect_format
from callwright.domain.knowledge.repository import KnowledgeRepository
from callwright.domain.knowledge.retrieval import chunk_metadata, search_chunks
from callwright.domain.knowledge.schemas import DocumentSource, SearchRequest
from callwright.domain.principal import Principal
from callwright.domain.validation import check_outbound_urls
from callwright.errors import NotFound, PayloadTooLarge
from callwright.store.base import utcnow
from callwright.store.models import KnowledgeDocument

__all__ = ["KnowledgeService", "document_view"]

_MAGIC_CHECK_BYTES = 1024
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _storable(value: str | None, limit: int) -> str | None:
    """Header and form values as a column can hold them: no control characters (NUL
    cannot be stored in PostgreSQL), no lone surrogates, at most ``limit`` characters."""
    if value is None:
        return None
    cleaned = _CONTROL.sub("", value.encode("utf-8", "replace").decode("utf-8")).strip()
    return cleaned[:limit] or None


def document_view(document: KnowledgeDocument) -> dict[str, Any]:
    """The document resource (never the content)."""
    done = document.processed_with or {}
    return {
        "id": document.id,
        "assistant_id": document.assistant_id,
        "organization_id": document.organization_id,
        "user_id": document.user_id,
        "name": document.name,
        "source": document.source,
        "url": document.url,
        "format": document.format,
        "content_type": document.content_type,
        "size_bytes": document.size_bytes,
        "sha256": document.sha256,
        "status": document.status,
        "error": document.error,
        "chunk_count": document.chunk_count,
        "char_count": document.char_count,
        "embedding_model": done.get("embedding_model"),
        "chunking_strategy": done.get("chunking_strategy"),
        "chunk_size": done.get("chunk_size"),
        "chunk_overlap": done.get("chunk_overlap"),
        "attempts": document.attempts,
        "processed_at": document.processed_at,
        "created_at": document.created_at,
        "updated_at": document.updated_at,
    }


def _check_content(data: bytes, document_format: DocumentFormat) -> None:
    """The cheap checks worth an immediate 422 (the full parse runs in the background)."""
    if not data:
        raise DocumentRejected("the document is empty")
    head = data[:_MAGIC_CHECK_BYTES]
    if document_format == "pdf" and b"%PDF-" not in head:
        raise DocumentRejected("the file is not a PDF (no %PDF- header)")
    if document_format == "docx" and not data.startswith(b"PK\x03\x04"):
        raise DocumentRejected("the file is not a DOCX (not a zip archive)")
    if (
        document_format not in ("pdf", "docx")
        and b"\x00" in head
        and not head.startswith((b"\xff\xfe", b"\xfe\xff"))
    ):
        raise DocumentRejected(f"the file is binary, not {document_format} text")


@dataclass
class KnowledgeService:
    session: AsyncSession
    principal: Principal
    context: KnowledgeContext
    # Documents to hand to the processor once the request's transaction has committed.
    to_notify: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._assistants = AssistantService(self.session, self.principal, self.context.box)
        self._documents = KnowledgeRepository(self.session, self.principal)

    async def _assistant(self, identifier: str) -> StoredAssistant:
        return await self._assistants.get(identifier)

    async def _find(self, assistant: StoredAssistant, document_id: int) -> KnowledgeDocument:
        document = await self._documents.get(assistant.row.id, document_id)
        if document is None:
            raise NotFound(f"document {document_id} not found")
        return document

    async def _reconcile(self, assistant: StoredAssistant) -> None:
        self.to_notify.extend(await self.context.reconcile(self.session, assistant))

    # -- adding ------------------------------------------------------------------------

    async def _add(
        self,
        assistant: StoredAssistant,
        *,
        name: str,
        source: str,
        content: bytes | None,
        document_format: DocumentFormat | None,
        content_type: str | None,
        url: str | None = None,
    ) -> KnowledgeDocument:
        now = utcnow()
        auto = assistant.settings.rag_settings.auto_process
        document = KnowledgeDocument(
            organization_id=self.principal.organization_id,
            assistant_id=assistant.row.id,
            user_id=self.principal.user_id,
            name=name[:255],
            source=source,
            url=url,
            format=document_format,
            content_type=content_type,
            size_bytes=len(content or b""),
            sha256=hashlib.sha256(content).hexdigest() if content is not None else None,
            content=content,
            status="pending",
            chunk_count=0,
            char_count=0,
            processed_with={},
            attempts=0,
            queued_at=now if auto else None,
            created_at=now,
            updated_at=now,
        )
        await self._documents.add(document)
        if auto:
            self.to_notify.append(document.id)
        return document

    async def upload(
        self, identifier: str, filename: str | None, content_type: str | None, data: bytes
    ) -> dict[str, Any]:
        assistant = await self._assistant(identifier)
        limit = self.context.max_document_bytes
        if len(data) > limit:
            raise PayloadTooLarge(f"the document is {len(data)} bytes; the limit is {limit}")
        filename, content_type = _storable(filename, 1000), _storable(content_type, 200)
        document_format = detect_format(filename, content_type)
        _check_content(data, document_format)
        base = PurePosixPath((filename or "").replace("\\", "/")).name
        name = _storable(base, 255) or f"document.{document_format}"
        document = await self._add(
            assistant,
            name=name,
            source="upload",
            content=data,
            document_format=document_format,
            content_type=content_type,
        )
        return document_view(document)

    async def add_source(self, identifier: str, body: DocumentSource) -> dict[str, Any]:
        assistant = await self._assistant(identifier)
        if body.text is not None:
            data = body.text.encode("utf-8")
            if len(data) > self.context.max_document_bytes:
                raise PayloadTooLarge(
                    f"the text is {len(data)} bytes; the limit is {self.context.max_document_bytes}"
                )
            document_format = body.format or "txt"
            _check_content(data, document_format)
            document = await self._add(
                assistant,
                name=body.name or "text",
                source="text",
                content=data,
                document_format=document_format,
                content_type="text/plain; charset=utf-8",
            )
        else:
            assert body.url is not None
            check_outbound_urls(body, self.context.outbound)
            path_name = PurePosixPath(urlsplit(body.url).path).name
            document = await self._add(
                assistant,
                name=body.name or path_name or urlsplit(body.url).hostname or body.url,
                source="url",
                content=None,
                document_format=body.format,
                content_type=None,
                url=body.url,
            )
        return document_view(document)

    # -- reading and changing ----------------------------------------------------------

    async def list(self, identifier: str, *, skip: int, limit: int) -> list[dict[str, Any]]:
        assistant = await self._assistant(identifier)
        await self._reconcile(assistant)
        documents = await self._documents.list(assistant.row.id, skip=skip, limit=limit)
        return [document_view(document) for document in documents]

    async def get(self, identifier: str, document_id: int) -> dict[str, Any]:
        assistant = await self._assistant(identifier)
        await self._reconcile(assistant)
        return document_view(await self._find(assistant, document_id))

    async def delete(self, identifier: str, document_id: int) -> None:
        """Gone at once: its chunks leave every index at the next search."""
        assistant = await self._assistant(identifier)
        await self._documents.delete(await self._find(assistant, document_id))

    async def reprocess(self, identifier: str, document_id: int) -> dict[str, Any]:
        """Queue the document now, whatever its status and ``auto_process`` (a URL is
        fetched again). A processing run in flight loses its claim and its result."""
        assistant = await self._assistant(identifier)
        document = await self._find(assistant, document_id)
        now = utcnow()
        document.status = "pending"
        document.error = None
        document.attempts = 0
        document.claim_token = None
        document.lease_until = None
        document.queued_at = now
        document.updated_at = now
        if document.source == "url":
            document.format = None  # detected again from what the URL serves now
        await self._documents.flush()
        self.to_notify.append(document.id)
        return document_view(document)

    async def search(self, identifier: str, request: SearchRequest) -> dict[str, Any]:
        assistant = await self._assistant(identifier)
        await self._reconcile(assistant)
        rag = assistant.settings.rag_settings
        choice, key = await self.context.embedding_for(self.session, assistant)
        found = await search_chunks(
            self.context,
            assistant.row.id,
            choice,
            key,
            request.query,
            limit=request.search_limit or rag.search_limit,
            threshold=(
                request.similarity_threshold
                if request.similarity_threshold is not None
                else rag.similarity_threshold
            ),
        )
        return {
            "query": request.query,
            "embedding_model": choice.model,
            "results": [
                {
                    "chunk_id": row.id,
                    "text": row.text,
                    "score": round(score, 4),
                    "metadata": chunk_metadata(row) if rag.include_metadata else None,
                }
                for row, score in found
            ],
        }
