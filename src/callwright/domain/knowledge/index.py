"""In-process vector indexes over the chunks stored in the database.

The database is the only source of truth: every chunk row holds its vector (float32
bytes) and the embedding model that made it. Each process keeps, per (assistant,
model), the vectors in memory and — past ``EXACT_SEARCH_MAX`` vectors — a usearch HNSW
index built from them. Every change to an assistant's chunks bumps its knowledge base's
``generation`` in the same transaction; before searching, the index reads the
generation (one primary-key look-up) and, if it moved, applies the difference (ids
added or removed) from the database. So a restart, or another server process writing
chunks, is picked up on the next search, and vectors of different models never meet.

Below ``EXACT_SEARCH_MAX`` vectors the search is exact (one matrix-vector product).
Above it, an HNSW index (int8-quantised cosine, a fraction of the float32 memory) is
built in a background thread from a snapshot; until it is ready, searches stay exact,
and once installed it is reconciled with the vectors that changed meanwhile. ANN
candidates are re-scored exactly from the in-memory vectors, so scores and the
similarity threshold mean the same on both paths.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import numpy.typing as npt
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callwright.domain.knowledge import repository

__all__ = [
    "EXACT_SEARCH_MAX",
    "Hit",
    "VectorIndexes",
    "decode_vector",
    "encode_vector",
]

logger = logging.getLogger(__name__)

FloatMatrix = npt.NDArray[np.float32]
Keys = npt.NDArray[np.int64]

EXACT_SEARCH_MAX: Final = 20_000
# HNSW parameters, measured on 100k random 384-dim unit vectors (the hard case: no
# clusters) with 2 build threads on a busy 2-core machine. Connectivity 16 /
# expansion_add 40 builds in ~50 s but finds a query's true nearest neighbour only 83%
# of the time (expansion_search 256); 24 / 64 builds in ~90 s and finds it 98% (384) to
# 100% (512) of the time, for 4-7 ms a query. int8 storage: the recall of f16, a quarter
# of the memory of float32.
_CONNECTIVITY: Final = 24
_EXPANSION_ADD: Final = 64
_EXPANSION_SEARCH: Final = 384
_BUILD_BATCH: Final = 2_000
# ANN candidates per result wanted, re-scored exactly before the threshold applies.
_OVERSAMPLE: Final = 4
_MIN_CANDIDATES: Final = 32
_LOAD_BATCH: Final = 1_000


def encode_vector(vector: Sequence[float] | npt.NDArray[Any]) -> bytes:
    """A vector as little-endian float32 bytes (what the ``embedding`` column holds)."""
    return np.asarray(vector, dtype="<f4").tobytes()


def decode_vector(data: bytes) -> FloatMatrix:
    return np.frombuffer(data, dtype="<f4").astype(np.float32)


@dataclass(frozen=True, slots=True)
class Hit:
    chunk_id: int
    score: float  # cosine similarity


@dataclass
class _Entry:
    """One (assistant, model): sorted chunk ids, their unit vectors, maybe an HNSW."""

    dimensions: int | None = None
    generation: int | None = None
    # (sorted chunk ids, their vectors row by row): replaced as one value, so a search
    # running in a thread never sees the ids of one version with the rows of another.
    vectors: tuple[Keys, FloatMatrix] = field(
        default_factory=lambda: (np.empty(0, dtype=np.int64), np.empty((0, 0), dtype=np.float32))
    )
    ann: Any = None  # usearch.index.Index once built and reconciled
    ann_keys: set[int] = field(default_factory=set)
    building: threading.Thread | None = None
    built: Any = None  # (index, keys it holds), handed over by the builder thread
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    ann_lock: threading.Lock = field(default_factory=threading.Lock)


class VectorIndexes:
    """Per-process cache of vector indexes, one per (assistant, embedding model)."""

    def __init__(self, *, exact_search_max: int = EXACT_SEARCH_MAX, build_threads: int = 1) -> None:
        self.exact_search_max = exact_search_max
        # One thread by default: a build shares the machine with live calls.
        self.build_threads = build_threads
        self._entries: dict[tuple[int, str], _Entry] = {}
        self._closed = threading.Event()

    def size(self, assistant_id: int, model: str) -> int:
        entry = self._entries.get((assistant_id, model))
        return 0 if entry is None else len(entry.vectors[0])

    def uses_ann(self, assistant_id: int, model: str) -> bool:
        entry = self._entries.get((assistant_id, model))
        return entry is not None and entry.ann is not None

    async def search(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        assistant_id: int,
        model: str,
        query: Sequence[float],
        limit: int,
    ) -> list[Hit]:
        """The ``limit`` chunks closest to ``query`` (a unit vector of ``model``), best
        first, after bringing the index up to date with the database."""
        entry = await self.sync(session_factory, assistant_id, model)
        if not len(entry.vectors[0]):
            return []
        vector = np.asarray(query, dtype=np.float32)
        if entry.dimensions is not None and vector.shape != (entry.dimensions,):
            raise ValueError(
                f"a {vector.shape[0]}-dim query for {entry.dimensions}-dim {model} vectors"
            )
        return await asyncio.to_thread(self._search, entry, vector, limit)

    async def sync(
        self, session_factory: async_sessionmaker[AsyncSession], assistant_id: int, model: str
    ) -> _Entry:
        """Bring (assistant, model) up to date with the database; returns its entry."""
        entry = self._entries.setdefault((assistant_id, model), _Entry())
        async with session_factory() as session:
            generation = await repository.knowledge_generation(session, assistant_id)
        if entry.generation == generation and entry.built is None:
            return entry
        async with entry.lock:
            if entry.generation != generation:
                await self._load_changes(session_factory, entry, assistant_id, model)
                # The data read is at least as new as ``generation`` (read first).
                entry.generation = generation
            self._install_built(entry)
            await asyncio.to_thread(self._reconcile_ann, entry)
            self._maybe_build(entry, assistant_id, model)
        return entry

    async def _load_changes(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        entry: _Entry,
        assistant_id: int,
        model: str,
    ) -> None:
        async with session_factory() as session:
            stored = await repository.chunk_ids(session, assistant_id, model)
            known = set(entry.vectors[0].tolist())
            added = sorted(set(stored) - known)
            removed = known - set(stored)
            new_vectors: list[tuple[int, bytes]] = []
            for start in range(0, len(added), _LOAD_BATCH):
                batch = added[start : start + _LOAD_BATCH]
                new_vectors.extend(await repository.chunk_vectors(session, batch))
        if added or removed:
            await asyncio.to_thread(_apply, entry, new_vectors, removed)
            logger.info(
                "knowledge index assistant=%s model=%s: +%d -%d → %d vectors",
                assistant_id,
                model,
                len(added),
                len(removed),
                len(entry.vectors[0]),
            )

    def _search(self, entry: _Entry, vector: FloatMatrix, limit: int) -> list[Hit]:
        keys, matrix = entry.vectors
        if entry.ann is not None:
            wanted = min(len(keys), max(limit * _OVERSAMPLE, _MIN_CANDIDATES))
            with entry.ann_lock:
                matches = entry.ann.search(vector, wanted, threads=1)
            candidates = np.asarray(matches.keys, dtype=np.int64)
            rows = np.searchsorted(keys, candidates)
            rows = rows[(rows < len(keys)) & (keys[np.minimum(rows, len(keys) - 1)] == candidates)]
            scores = matrix[rows] @ vector
            order = np.argsort(-scores)[:limit]
            return [Hit(int(keys[rows[i]]), float(scores[i])) for i in order]
        scores = matrix @ vector
        count = min(limit, len(scores))
        top = np.argpartition(-scores, count - 1)[:count]
        top = top[np.argsort(-scores[top])]
        return [Hit(int(keys[i]), float(scores[i])) for i in top]

    # -- the HNSW accelerator ------------------------------------------------------------

    def _maybe_build(self, entry: _Entry, assistant_id: int, model: str) -> None:
        keys, matrix = entry.vectors
        if len(keys) <= self.exact_search_max:
            entry.ann, entry.ann_keys = None, set()
            return
        if entry.ann is not None or entry.building is not None or self._closed.is_set():
            return

        def build() -> None:
            index = _usearch_index()(
                ndim=matrix.shape[1],
                metric="cos",
                dtype="i8",
                connectivity=_CONNECTIVITY,
                expansion_add=_EXPANSION_ADD,
                expansion_search=_EXPANSION_SEARCH,
            )
            for start in range(0, len(keys), _BUILD_BATCH):
                if self._closed.is_set():
                    return
                index.add(
                    keys[start : start + _BUILD_BATCH],
                    matrix[start : start + _BUILD_BATCH],
                    threads=self.build_threads,
                )
            entry.built = (index, set(keys.tolist()))
            entry.building = None
            logger.info(
                "knowledge index assistant=%s model=%s: HNSW over %d vectors ready",
                assistant_id,
                model,
                len(keys),
            )

        # A thread, not a task: the build is seconds of CPU per 10k vectors and is
        # picked up by the next search (``_install_built``); searches stay exact until then.
        entry.building = threading.Thread(
            target=build, name=f"knowledge-index-{assistant_id}", daemon=True
        )
        entry.building.start()

    def _install_built(self, entry: _Entry) -> None:
        built, entry.built = entry.built, None
        if built is not None:
            entry.ann, entry.ann_keys = built

    def _reconcile_ann(self, entry: _Entry) -> None:
        """Make the HNSW hold exactly the entry's keys (changes since its snapshot)."""
        if entry.ann is None:
            return
        keys, matrix = entry.vectors
        current = set(keys.tolist())
        removed = entry.ann_keys - current
        added = sorted(current - entry.ann_keys)
        if not removed and not added:
            return
        with entry.ann_lock:
            if removed:
                entry.ann.remove(np.fromiter(removed, dtype=np.int64))
            if added:
                rows = np.searchsorted(keys, np.asarray(added, dtype=np.int64))
                entry.ann.add(np.asarray(added, dtype=np.int64), matrix[rows], threads=1)
        entry.ann_keys = current

    def close(self) -> None:
        """Stop background builds (they check between batches)."""
        self._closed.set()

    def forget(self, assistant_id: int | None = None) -> None:
        """Drop cached indexes (all, or one assistant's); they reload on the next search."""
        for key in list(self._entries):
            if assistant_id is None or key[0] == assistant_id:
                del self._entries[key]


def _usearch_index() -> Any:
    """usearch's ``Index`` class. usearch loads its SIMD library (NumKong, with its own
    libgomp) with ``RTLD_GLOBAL``; onnxruntime imported after that crashes the process
    (usearch 2.26 / onnxruntime 1.31), and the offline embedder and VAD need it. So
    onnxruntime, when installed, is loaded first."""
    if importlib.util.find_spec("onnxruntime") is not None:
        importlib.import_module("onnxruntime")
    from usearch.index import Index

    return Index


def _apply(entry: _Entry, added: list[tuple[int, bytes]], removed: set[int]) -> None:
    """New (id, vector) rows in, removed ids out; keys stay sorted. Blocking."""
    keys, matrix = entry.vectors
    if removed:
        keep = ~np.isin(keys, np.fromiter(removed, dtype=np.int64))
        keys, matrix = keys[keep], matrix[keep]
    if added:
        vectors = [decode_vector(data) for _, data in added]
        dimensions = {len(v) for v in vectors}
        if entry.dimensions is not None:
            dimensions.add(entry.dimensions)
        if len(dimensions) != 1:
            raise ValueError(
                f"vectors of one model must share one size, found {sorted(dimensions)}"
            )
        (entry.dimensions,) = dimensions
        new_keys = np.asarray([key for key, _ in added], dtype=np.int64)
        new_matrix = np.vstack(vectors).astype(np.float32)
        if len(keys):
            keys = np.concatenate([keys, new_keys])
            matrix = np.vstack([matrix, new_matrix])
        else:
            keys, matrix = new_keys, new_matrix
        order = np.argsort(keys, kind="stable")
        keys, matrix = keys[order], np.ascontiguousarray(matrix[order])
    entry.vectors = (keys, matrix)
