"""Every query on knowledge bases.

``KnowledgeRepository`` serves requests: each query is filtered to the principal's
organization, and the service reaches it only through an assistant the principal may
see. The module functions serve the runtime (the document processor, the vector index,
calls), which acts for the system and is handed ids it already trusts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import undefer

from callwright.domain.principal import Principal
from callwright.store.base import utcnow
from callwright.store.models import KnowledgeBase, KnowledgeChunk, KnowledgeDocument

__all__ = [
    "ChunkRow",
    "KnowledgeRepository",
    "bump_generation",
    "chunk_ids",
    "chunk_rows",
    "chunk_vectors",
    "claim_document",
    "count_chunks",
    "document_attempts",
    "document_with_content",
    "due_document_ids",
    "ensure_knowledge_base",
    "finish_document",
    "knowledge_generation",
    "release_document",
    "replace_chunks",
]


class KnowledgeRepository:
    def __init__(self, session: AsyncSession, principal: Principal) -> None:
        self._session = session
        self._principal = principal

    def _documents(self, assistant_id: int) -> Any:
        return select(KnowledgeDocument).where(
            KnowledgeDocument.organization_id == self._principal.organization_id,
            KnowledgeDocument.assistant_id == assistant_id,
        )

    async def get(
        self, assistant_id: int, document_id: int, *, for_update: bool = False
    ) -> KnowledgeDocument | None:
        query = self._documents(assistant_id).where(KnowledgeDocument.id == document_id)
        if for_update:
            query = query.with_for_update()
        result = await self._session.execute(query)
        document: KnowledgeDocument | None = result.scalar_one_or_none()
        return document

    async def list(
        self, assistant_id: int, *, skip: int, limit: int
    ) -> Sequence[KnowledgeDocument]:
        query = self._documents(assistant_id).order_by(
            KnowledgeDocument.created_at.desc(), KnowledgeDocument.id.desc()
        )
        return (await self._session.execute(query.offset(skip).limit(limit))).scalars().all()

    async def all(self, assistant_id: int) -> Sequence[KnowledgeDocument]:
        return (await self._session.execute(self._documents(assistant_id))).scalars().all()

    async def add(self, document: KnowledgeDocument) -> KnowledgeDocument:
        if document.organization_id != self._principal.organization_id:
            raise ValueError("a document can only be added to the principal's organization")
        self._session.add(document)
        await self._session.flush()
        await ensure_knowledge_base(self._session, document.assistant_id, document.organization_id)
        return document

    async def delete(self, document: KnowledgeDocument) -> None:
        if document.organization_id != self._principal.organization_id:
            raise ValueError("not the principal's document")
        had_chunks = document.chunk_count > 0
        await self._session.execute(
            delete(KnowledgeChunk).where(KnowledgeChunk.document_id == document.id)
        )
        await self._session.delete(document)
        await self._session.flush()
        if had_chunks:
            await bump_generation(self._session, document.assistant_id)

    async def flush(self) -> None:
        await self._session.flush()


# -- the runtime ----------------------------------------------------------------------


async def ensure_knowledge_base(
    session: AsyncSession, assistant_id: int, organization_id: int
) -> None:
    """Create the assistant's knowledge base row if it is missing (race-free)."""
    values = {
        "assistant_id": assistant_id,
        "organization_id": organization_id,
        "generation": 0,
        "updated_at": utcnow(),
    }
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    statement: Any
    if dialect == "postgresql":
        statement = postgresql_insert(KnowledgeBase).values(values).on_conflict_do_nothing()
    else:
        statement = sqlite_insert(KnowledgeBase).values(values).on_conflict_do_nothing()
    await session.execute(statement)


async def knowledge_generation(session: AsyncSession, assistant_id: int) -> int:
    """The assistant's generation (0 without a knowledge base)."""
    query = select(KnowledgeBase.generation).where(KnowledgeBase.assistant_id == assistant_id)
    return int((await session.execute(query)).scalar_one_or_none() or 0)


async def bump_generation(session: AsyncSession, assistant_id: int) -> None:
    """Mark the assistant's chunks as changed; call in the transaction that changed them."""
    await session.execute(
        update(KnowledgeBase)
        .where(KnowledgeBase.assistant_id == assistant_id)
        .values(generation=KnowledgeBase.generation + 1, updated_at=utcnow())
    )


async def chunk_ids(session: AsyncSession, assistant_id: int, model: str) -> list[int]:
    query = select(KnowledgeChunk.id).where(
        KnowledgeChunk.assistant_id == assistant_id, KnowledgeChunk.embedding_model == model
    )
    return list((await session.execute(query)).scalars().all())


async def chunk_vectors(session: AsyncSession, ids: Sequence[int]) -> list[tuple[int, bytes]]:
    if not ids:
        return []
    query = select(KnowledgeChunk.id, KnowledgeChunk.embedding).where(KnowledgeChunk.id.in_(ids))
    return [(row.id, row.embedding) for row in await session.execute(query)]


@dataclass(frozen=True, slots=True)
class ChunkRow:
    id: int
    document_id: int
    document_name: str
    ordinal: int
    text: str
    meta: dict[str, Any]
    token_count: int


async def chunk_rows(
    session: AsyncSession, assistant_id: int, ids: Sequence[int]
) -> dict[int, ChunkRow]:
    """The chunks ``ids`` of one assistant with their document's name, by id."""
    if not ids:
        return {}
    query = (
        select(
            KnowledgeChunk.id,
            KnowledgeChunk.document_id,
            KnowledgeDocument.name,
            KnowledgeChunk.ordinal,
            KnowledgeChunk.text,
            KnowledgeChunk.meta,
            KnowledgeChunk.token_count,
        )
        .join(KnowledgeDocument, KnowledgeDocument.id == KnowledgeChunk.document_id)
        .where(KnowledgeChunk.assistant_id == assistant_id, KnowledgeChunk.id.in_(ids))
    )
    return {
        row.id: ChunkRow(
            row.id,
            row.document_id,
            row.name,
            row.ordinal,
            row.text,
            dict(row.meta),
            row.token_count,
        )
        for row in await session.execute(query)
    }


async def due_document_ids(session: AsyncSession, now: datetime, limit: int) -> list[int]:
    """Documents waiting to be processed: pending and not backing off, or processing
    under a lease that expired (its worker died)."""
    query = (
        select(KnowledgeDocument.id)
        .where(
            KnowledgeDocument.status.in_(("pending", "processing")),
            KnowledgeDocument.queued_at.is_not(None),
            or_(KnowledgeDocument.lease_until.is_(None), KnowledgeDocument.lease_until < now),
        )
        .order_by(KnowledgeDocument.queued_at, KnowledgeDocument.id)
        .limit(limit)
    )
    return list((await session.execute(query)).scalars().all())


async def claim_document(
    session: AsyncSession, document_id: int, token: str, now: datetime, lease_until: datetime
) -> bool:
    """Take a due document for processing (compare-and-set: one claimant wins)."""
    result = await session.execute(
        update(KnowledgeDocument)
        .where(
            KnowledgeDocument.id == document_id,
            KnowledgeDocument.status.in_(("pending", "processing")),
            KnowledgeDocument.queued_at.is_not(None),
            or_(KnowledgeDocument.lease_until.is_(None), KnowledgeDocument.lease_until < now),
        )
        .values(
            status="processing",
            claim_token=token,
            lease_until=lease_until,
            attempts=KnowledgeDocument.attempts + 1,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0) == 1)


async def document_with_content(
    session: AsyncSession, document_id: int, token: str
) -> KnowledgeDocument | None:
    """The claimed document with its bytes, if ``token`` still holds the claim."""
    query = (
        select(KnowledgeDocument)
        .options(undefer(KnowledgeDocument.content))
        .where(KnowledgeDocument.id == document_id, KnowledgeDocument.claim_token == token)
    )
    document: KnowledgeDocument | None = (await session.execute(query)).scalar_one_or_none()
    return document


async def finish_document(
    session: AsyncSession, document_id: int, token: str, fields: dict[str, Any]
) -> bool:
    """Write a processed document's fields if ``token`` still holds its claim."""
    result = await session.execute(
        update(KnowledgeDocument)
        .where(KnowledgeDocument.id == document_id, KnowledgeDocument.claim_token == token)
        .values(**fields)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0) == 1)


async def replace_chunks(
    session: AsyncSession, document_id: int, assistant_id: int, chunks: Sequence[dict[str, Any]]
) -> None:
    """Swap the document's chunks for ``chunks`` (in the caller's transaction)."""
    await session.execute(delete(KnowledgeChunk).where(KnowledgeChunk.document_id == document_id))
    if chunks:
        await session.execute(insert(KnowledgeChunk), list(chunks))
    await bump_generation(session, assistant_id)


async def release_document(
    session: AsyncSession,
    document_id: int,
    token: str,
    *,
    status: str,
    error: str | None,
    retry_at: datetime | None = None,
    drop_chunks: bool = False,
) -> bool:
    """End a claim without new chunks: failed (``drop_chunks`` makes it unsearchable)
    or back to pending until ``retry_at``. False if the claim was lost meanwhile."""
    result = await session.execute(
        update(KnowledgeDocument)
        .where(KnowledgeDocument.id == document_id, KnowledgeDocument.claim_token == token)
        .values(
            status=status,
            # Foreign messages may carry what PostgreSQL text cannot hold.
            error=error.encode("utf-8", "replace").decode("utf-8").replace("\x00", "")[:2000]
            if error
            else None,
            claim_token=None,
            lease_until=retry_at,
            updated_at=utcnow(),
            **({"queued_at": None} if status == "failed" else {}),
            **({"chunk_count": 0} if drop_chunks else {}),
        )
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        return False
    if drop_chunks:
        assistant_id = (
            await session.execute(
                select(KnowledgeDocument.assistant_id).where(KnowledgeDocument.id == document_id)
            )
        ).scalar_one()
        deleted = await session.execute(
            delete(KnowledgeChunk).where(KnowledgeChunk.document_id == document_id)
        )
        if getattr(deleted, "rowcount", 0):
            await bump_generation(session, assistant_id)
    return True


async def document_attempts(session: AsyncSession, document_id: int) -> int:
    query = select(KnowledgeDocument.attempts).where(KnowledgeDocument.id == document_id)
    return int((await session.execute(query)).scalar_one_or_none() or 0)


async def count_chunks(session: AsyncSession, assistant_id: int) -> int:
    query = (
        select(func.count())
        .select_from(KnowledgeChunk)
        .where(KnowledgeChunk.assistant_id == assistant_id)
    )
    return int((await session.execute(query)).scalar_one())
