"""Retrieval latency at 1k and 100k chunks, on SQLite and on PostgreSQL.

For each store and size, a fresh migrated database gets one assistant with N chunks:
random 384-dim unit vectors (MiniLM's size; random vectors are the hard case for an
HNSW graph) and ~600 characters of text each. Then, through the product's code
(``VectorIndexes`` and the chunk query ``search_chunks`` uses):

- ``load_s``: a cold process loading the vectors from the database;
- ``exact``: exact search (the path below 20k vectors, and above it while the HNSW
  builds), per query;
- ``ann_build_s`` and ``ann``: the HNSW (usearch, int8) build, then search per query,
  with exact re-scoring of the candidates;
- ``found@3``: how often the vector a query was made from is among the 3 best (exact
  search: always; the HNSW: its recall);
- ``fetch``: reading the 3 best chunks' rows (text, metadata, document name);
- ``retrieval``: what a call turn pays after embedding its query: the generation check,
  the search and the fetch.

Queries are stored vectors plus noise (a true nearest neighbour exists). The query
embedding (offline MiniLM, one short sentence) is timed once, store-independent; the
in-call budget a turn waits for is embedding + retrieval.

    .venv/bin/python benchmarks/knowledge_latency.py [--sizes 1000 100000] [--queries 200]
        [--stores sqlite postgres] [--build-threads 2] [--json out.json]

PostgreSQL is the local server (``CALLWRIGHT_BENCH_POSTGRES``, default
``postgresql://postgres@127.0.0.1:5432/postgres``); a temporary database is created and
dropped. Runs in about three minutes on two cores.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callwright.domain.knowledge import repository
from callwright.domain.knowledge.index import VectorIndexes, encode_vector
from callwright.store.base import utcnow
from callwright.store.database import create_engine, create_session_factory
from callwright.store.migrate import upgrade_to_head
from callwright.store.models import (
    Assistant,
    KnowledgeChunk,
    KnowledgeDocument,
    Organization,
)

DIMENSIONS = 384
MODEL = "all-MiniLM-L6-v2"
TOP_K = 3
POSTGRES = os.environ.get(
    "CALLWRIGHT_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)
_TEXT = ("The quick brown fox jumps over the lazy dog while the bike shop opens at nine. " * 8)[
    :600
]


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    pick = lambda q: ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]  # noqa: E731
    return {"p50_ms": round(pick(50) * 1000, 2), "p95_ms": round(pick(95) * 1000, 2)}


def since(started: float) -> float:
    return time.perf_counter() - started


async def fill(factory: async_sessionmaker[AsyncSession], vectors: np.ndarray) -> int:
    """One organization, assistant and document holding ``vectors`` as chunks."""
    async with factory() as session:
        organization = Organization(name="bench")
        session.add(organization)
        await session.flush()
        assistant = Assistant(
            organization_id=organization.id,
            name="bench",
            config={},
            is_active=True,
            created_at=utcnow(),
        )
        session.add(assistant)
        await session.flush()
        document = KnowledgeDocument(
            organization_id=organization.id, assistant_id=assistant.id, name="bench.txt",
            source="text", status="ready", processed_with={}, size_bytes=0,
            chunk_count=len(vectors), char_count=0, attempts=0, created_at=utcnow(),
            updated_at=utcnow(),
        )  # fmt: skip
        session.add(document)
        await session.flush()
        await repository.ensure_knowledge_base(session, assistant.id, organization.id)
        for start in range(0, len(vectors), 5000):
            rows = [
                {
                    "document_id": document.id,
                    "assistant_id": assistant.id,
                    "ordinal": start + i,
                    "text": _TEXT,
                    "meta": {"start": 0, "end": 600},
                    "token_count": 130,
                    "embedding_model": MODEL,
                    "embedding": encode_vector(vector),
                }
                for i, vector in enumerate(vectors[start : start + 5000])
            ]
            await session.execute(insert(KnowledgeChunk), rows)
        await repository.bump_generation(session, assistant.id)
        await session.commit()
        return assistant.id


async def measure(
    factory: async_sessionmaker[AsyncSession], size: int, queries: int, build_threads: int
) -> dict[str, Any]:
    rng = np.random.default_rng(size)
    vectors = rng.standard_normal((size, DIMENSIONS)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    started = time.perf_counter()
    assistant_id = await fill(factory, vectors)
    insert_s = time.perf_counter() - started
    picks = rng.integers(0, size, queries)
    probes = vectors[picks] + 0.05 * rng.standard_normal((queries, DIMENSIONS)).astype(np.float32)
    probes /= np.linalg.norm(probes, axis=1, keepdims=True)

    result: dict[str, Any] = {"chunks": size, "insert_s": round(insert_s, 1)}
    # Exact search, as below 20k vectors (or while the HNSW builds).
    exact_index = VectorIndexes(exact_search_max=10**9)
    started = time.perf_counter()
    await exact_index.sync(factory, assistant_id, MODEL)
    result["load_s"] = round(time.perf_counter() - started, 2)
    async with factory() as session:
        query = select(KnowledgeChunk.ordinal, KnowledgeChunk.id).where(
            KnowledgeChunk.assistant_id == assistant_id
        )
        id_of = {row.ordinal: row.id for row in await session.execute(query)}
    planted = [id_of[int(pick)] for pick in picks]
    exact_times: list[float] = []
    exact_found = 0
    for source, probe in zip(planted, probes, strict=True):
        started = time.perf_counter()
        hits = await exact_index.search(factory, assistant_id, MODEL, probe, TOP_K)
        exact_times.append(since(started))
        exact_found += source in {h.chunk_id for h in hits}
    result["exact"] = percentiles(exact_times)
    result[f"exact_found@{TOP_K}"] = round(exact_found / queries, 3)

    ann_index = VectorIndexes(exact_search_max=min(size - 1, 20_000), build_threads=build_threads)
    await ann_index.sync(factory, assistant_id, MODEL)
    started = time.perf_counter()
    while size > 20_000 and not ann_index.uses_ann(assistant_id, MODEL):
        await asyncio.sleep(0.2)
        await ann_index.sync(factory, assistant_id, MODEL)
    result["ann_build_s"] = round(time.perf_counter() - started, 1) if size > 20_000 else None
    index = ann_index if size > 20_000 else exact_index
    search_times: list[float] = []
    fetch_times: list[float] = []
    total_times: list[float] = []
    found = 0
    for source, probe in zip(planted, probes, strict=True):
        started = time.perf_counter()
        hits = await index.search(factory, assistant_id, MODEL, probe, TOP_K)
        search_times.append(since(started))
        fetched = time.perf_counter()
        async with factory() as session:
            rows = await repository.chunk_rows(session, assistant_id, [h.chunk_id for h in hits])
        fetch_times.append(since(fetched))
        total_times.append(since(started))
        assert len(rows) == len(hits)
        found += source in {h.chunk_id for h in hits}
    result["ann" if size > 20_000 else "search"] = percentiles(search_times)
    result[f"{'ann' if size > 20_000 else 'search'}_found@{TOP_K}"] = round(found / queries, 3)
    result["fetch"] = percentiles(fetch_times)
    result["retrieval"] = percentiles(total_times)
    ann_index.close()
    return result


async def embedding_latency(queries: int) -> dict[str, float]:
    from callwright.providers.embeddings.minilm import MiniLMEmbeddings

    embedder = MiniLMEmbeddings()
    await embedder.embed(["warm up"])
    samples: list[float] = []
    for i in range(queries):
        started = time.perf_counter()
        await embedder.embed([f"Where do I find the serial number, question {i}?"])
        samples.append(since(started))
    return percentiles(samples)


async def on_store(
    store: str, sizes: list[int], queries: int, build_threads: int
) -> list[dict[str, Any]]:
    results = []
    for size in sizes:
        if store == "sqlite":
            directory = tempfile.TemporaryDirectory()
            url = f"sqlite+aiosqlite:///{directory.name}/bench.db"
            cleanup: Callable[[], Awaitable[None]] | None = None
        else:
            import asyncpg

            name = f"cw_bench_{uuid.uuid4().hex[:10]}"
            admin = await asyncpg.connect(POSTGRES)
            await admin.execute(f'CREATE DATABASE "{name}"')
            await admin.close()
            url = (
                POSTGRES.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
                + f"/{name}"
            )

            async def drop(name: str = name) -> None:
                admin = await asyncpg.connect(POSTGRES)
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                await admin.close()

            cleanup = drop
        engine = create_engine(url)
        try:
            await upgrade_to_head(engine)
            row = await measure(create_session_factory(engine), size, queries, build_threads)
            results.append({"store": store, **row})
            print(json.dumps(results[-1]), file=sys.stderr)
        finally:
            await engine.dispose()
            if cleanup is not None:
                await cleanup()
            elif store == "sqlite":
                directory.cleanup()
    return results


async def run(args: argparse.Namespace) -> dict[str, Any]:
    embed = await embedding_latency(min(args.queries, 100))
    rows = []
    for store in args.stores:
        rows += await on_store(store, args.sizes, args.queries, args.build_threads)
    budgets = {
        f"{row['store']}@{row['chunks']}": round(embed["p95_ms"] + row["retrieval"]["p95_ms"], 1)
        for row in rows
    }
    return {"query_embedding": embed, "rows": rows, "in_call_budget_p95_ms": budgets}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 100_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument(
        "--stores", nargs="+", default=["sqlite", "postgres"], choices=["sqlite", "postgres"]
    )
    parser.add_argument("--build-threads", type=int, default=2)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    result = asyncio.run(run(args))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
