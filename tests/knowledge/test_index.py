"""The vector index stays consistent with the database: across two "processes" (two
index caches on one database), across restarts, through deletes, on the exact path and
on the HNSW path."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import numpy as np
import pytest
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callwright.domain.accounts.service import AccountsService
from callwright.domain.knowledge import repository
from callwright.domain.knowledge.index import VectorIndexes, decode_vector, encode_vector
from callwright.store.base import utcnow
from callwright.store.database import create_engine, create_session_factory
from callwright.store.models import Assistant, KnowledgeChunk, KnowledgeDocument

MODEL = "test-model"
DIMENSIONS = 32


@pytest.fixture
async def factory(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(database_url)
    yield create_session_factory(engine)
    await engine.dispose()


async def make_assistant(factory: async_sessionmaker[AsyncSession]) -> tuple[int, int]:
    """(assistant id, document id) of a fresh assistant with one empty document."""
    async with factory() as session:
        organization = await AccountsService(session).create_organization("Acme")
        assistant = Assistant(
            organization_id=organization.id,
            name="kb",
            config={},
            is_active=True,
            created_at=utcnow(),
        )
        session.add(assistant)
        await session.flush()
        document = KnowledgeDocument(
            organization_id=organization.id,
            assistant_id=assistant.id,
            name="d",
            source="text",
            status="ready",
            processed_with={},
            size_bytes=0,
            chunk_count=0,
            char_count=0,
            attempts=0,
            created_at=utcnow(),
            updated_at=utcnow(),
        )
        session.add(document)
        await session.flush()
        await repository.ensure_knowledge_base(session, assistant.id, organization.id)
        await session.commit()
        return assistant.id, document.id


def unit(rng: np.random.Generator, count: int) -> np.ndarray:
    vectors = rng.standard_normal((count, DIMENSIONS)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


async def add_chunks(
    factory: async_sessionmaker[AsyncSession],
    assistant_id: int,
    document_id: int,
    vectors: np.ndarray,
    model: str = MODEL,
) -> list[int]:
    async with factory() as session, session.begin():
        rows = [
            KnowledgeChunk(
                document_id=document_id,
                assistant_id=assistant_id,
                ordinal=i,
                text=f"chunk {i}",
                meta={},
                token_count=2,
                embedding_model=model,
                embedding=encode_vector(vector),
            )
            for i, vector in enumerate(vectors)
        ]
        session.add_all(rows)
        await session.flush()
        await repository.bump_generation(session, assistant_id)
        return [row.id for row in rows]


def test_vectors_round_trip_as_little_endian_float32() -> None:
    data = encode_vector([1.0, -0.5, 0.25])
    assert data == b"\x00\x00\x80\x3f\x00\x00\x00\xbf\x00\x00\x80\x3e"
    assert decode_vector(data).tolist() == [1.0, -0.5, 0.25]


async def test_exact_search_is_exact_and_sees_other_processes_writes(
    factory: async_sessionmaker[AsyncSession],
) -> None:
    rng = np.random.default_rng(7)
    assistant_id, document_id = await make_assistant(factory)
    vectors = unit(rng, 200)
    ids = await add_chunks(factory, assistant_id, document_id, vectors)
    this, other = VectorIndexes(), VectorIndexes()  # two server processes

    query = vectors[17]
    hits = await this.search(factory, assistant_id, MODEL, query.tolist(), 5)
    expected = np.argsort(-(vectors @ query))[:5]
    assert [h.chunk_id for h in hits] == [ids[i] for i in expected]
    assert hits[0].score == pytest.approx(1.0, abs=1e-5)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)

    # The other process adds chunks: this one sees them on its next search.
    more = unit(rng, 3)
    new_ids = await add_chunks(factory, assistant_id, document_id, more)
    await other.search(factory, assistant_id, MODEL, more[0].tolist(), 1)
    (hit,) = await this.search(factory, assistant_id, MODEL, more[1].tolist(), 1)
    assert hit.chunk_id == new_ids[1]
    assert this.size(assistant_id, MODEL) == 203

    # ...and deletes: gone from this one's results at once.
    async with factory() as session, session.begin():
        await session.execute(delete(KnowledgeChunk).where(KnowledgeChunk.id.in_(new_ids)))
        await repository.bump_generation(session, assistant_id)
    hits = await this.search(factory, assistant_id, MODEL, more[1].tolist(), 3)
    assert not set(new_ids) & {h.chunk_id for h in hits}
    assert this.size(assistant_id, MODEL) == 200

    # A restart (a new cache) loads everything from the database.
    restarted = VectorIndexes()
    again = await restarted.search(factory, assistant_id, MODEL, query.tolist(), 5)
    assert [h.chunk_id for h in again] == [
        h.chunk_id for h in await this.search(factory, assistant_id, MODEL, query.tolist(), 5)
    ]


async def test_models_and_assistants_never_mix(factory: async_sessionmaker[AsyncSession]) -> None:
    rng = np.random.default_rng(3)
    first, first_doc = await make_assistant(factory)
    second, second_doc = await make_assistant(factory)
    vectors = unit(rng, 10)
    mine = await add_chunks(factory, first, first_doc, vectors)
    await add_chunks(factory, first, first_doc, vectors, model="other-model")
    theirs = await add_chunks(factory, second, second_doc, vectors)
    indexes = VectorIndexes()
    hits = await indexes.search(factory, first, MODEL, vectors[0].tolist(), 20)
    assert sorted(h.chunk_id for h in hits) == sorted(mine)
    assert not set(theirs) & {h.chunk_id for h in hits}
    with pytest.raises(ValueError, match="16-dim query"):
        await indexes.search(factory, first, MODEL, [0.25] * 16, 1)


async def test_the_hnsw_path_builds_in_the_background_and_stays_consistent(
    factory: async_sessionmaker[AsyncSession],
) -> None:
    rng = np.random.default_rng(11)
    assistant_id, document_id = await make_assistant(factory)
    vectors = unit(rng, 600)
    ids = await add_chunks(factory, assistant_id, document_id, vectors)
    indexes = VectorIndexes(exact_search_max=100)
    try:
        # The first search is exact while the HNSW builds in its thread.
        hits = await indexes.search(factory, assistant_id, MODEL, vectors[5].tolist(), 3)
        assert hits[0].chunk_id == ids[5]
        async with asyncio.timeout(30):  # a hang detector
            while not indexes.uses_ann(assistant_id, MODEL):
                await asyncio.sleep(0.05)
                await indexes.sync(factory, assistant_id, MODEL)

        # Scores are re-ranked exactly: the same as the exact search would give.
        query = unit(rng, 1)[0]
        hits = await indexes.search(factory, assistant_id, MODEL, query.tolist(), 5)
        exact = vectors @ query
        for hit in hits:
            assert hit.score == pytest.approx(float(exact[ids.index(hit.chunk_id)]), abs=1e-5)
        best = [ids[i] for i in np.argsort(-exact)[:5]]
        assert len(set(best) & {h.chunk_id for h in hits}) >= 4  # approximate, not lossy

        # Writes from elsewhere reach the HNSW too.
        more = unit(rng, 2)
        new_ids = await add_chunks(factory, assistant_id, document_id, more)
        (hit,) = await indexes.search(factory, assistant_id, MODEL, more[0].tolist(), 1)
        assert hit.chunk_id == new_ids[0]
        async with factory() as session, session.begin():
            await session.execute(delete(KnowledgeChunk).where(KnowledgeChunk.id == new_ids[0]))
            await repository.bump_generation(session, assistant_id)
        hits = await indexes.search(factory, assistant_id, MODEL, more[0].tolist(), 3)
        assert new_ids[0] not in {h.chunk_id for h in hits}
        assert indexes.uses_ann(assistant_id, MODEL)
    finally:
        indexes.close()


async def test_chunk_ids_are_never_reused(factory: async_sessionmaker[AsyncSession]) -> None:
    """An index keyed by id must never take a new chunk for a deleted one."""
    rng = np.random.default_rng(5)
    assistant_id, document_id = await make_assistant(factory)
    first = await add_chunks(factory, assistant_id, document_id, unit(rng, 3))
    async with factory() as session, session.begin():
        await session.execute(delete(KnowledgeChunk))
    second = await add_chunks(factory, assistant_id, document_id, unit(rng, 3))
    assert min(second) > max(first)
