"""Values read from the database and reused for a few seconds by one server process,
dropped at once when this process commits a change to them.

Two things are cached this way: authenticated API keys (``domain.accounts``) and
organizations' signing secrets (``domain.signing_secrets``). Each kind is a ``CacheFamily``:
every cache of that kind in the process (one per app or dispatcher), so that a change
committed through any session invalidates all of them. Other processes see the change
when their entry expires (``ttl_s``); that staleness bound is the whole contract.

A read races an invalidation: a request that started reading before a revocation
committed may finish after it, holding the old value. ``generation`` taken before the
read and handed to ``store`` after it drops such a value instead of keeping it.
"""

from __future__ import annotations

import functools
import threading
import time
import weakref
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

__all__ = ["CacheFamily", "ExpiringCache"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class CacheFamily(Generic[K]):
    """The live caches of one kind in this process, invalidated together."""

    def __init__(self) -> None:
        self._caches: weakref.WeakSet[ExpiringCache[K, object]] = weakref.WeakSet()
        # Keeps a cache's check-then-store and an invalidation from interleaving
        # across threads (an invalidation may run in a sync session's thread).
        self.lock = threading.Lock()

    def _add(self, cache: ExpiringCache[K, object]) -> None:
        with self.lock:
            self._caches.add(cache)

    def invalidate(self, key: K) -> None:
        """Drop ``key`` from every cache of this kind, and any read of it under way."""
        with self.lock:
            caches = list(self._caches)
        for cache in caches:
            cache.invalidate(key)

    def invalidate_after_commit(self, session: AsyncSession, key: K) -> None:
        """Drop ``key`` once ``session``'s transaction commits: not before, or a read in
        between could cache the old value again; not at all if it rolls back."""
        event.listen(
            session.sync_session,
            "after_commit",
            functools.partial(self._invalidate_on, key),
            once=True,
        )

    def _invalidate_on(self, key: K, _session: Session) -> None:
        self.invalidate(key)


@dataclass(frozen=True, slots=True)
class _Entry(Generic[V]):
    value: V
    expires: float


class ExpiringCache(Generic[K, V]):
    """Values by key, each used for ``ttl_s`` seconds from the read that filled it.
    Past ``max_entries`` expired entries are dropped, then the oldest."""

    def __init__(
        self,
        family: CacheFamily[K],
        *,
        ttl_s: float,
        clock: Callable[[], float] = time.monotonic,
        max_entries: int = 4096,
    ) -> None:
        self._family = family
        self._ttl_s = ttl_s
        self._clock = clock
        self._max_entries = max_entries
        self._entries: dict[K, _Entry[V]] = {}
        self._generation = 0  # bumped by every invalidation
        family._add(self)  # type: ignore[arg-type]  # the family only invalidates

    @property
    def generation(self) -> int:
        """Take it before a database read and hand it to ``store`` after the read."""
        return self._generation

    def get(self, key: K) -> V | None:
        entry = self._entries.get(key)
        if entry is None or entry.expires <= self._clock():
            return None
        return entry.value

    def store(self, key: K, value: V, generation: int) -> None:
        """Keep ``value`` unless an invalidation happened since ``generation``."""
        with self._family.lock:
            if generation != self._generation:
                return  # a change committed during the read: it may have missed it
            now = self._clock()
            if len(self._entries) >= self._max_entries:
                self._entries = {k: e for k, e in self._entries.items() if e.expires > now}
                if len(self._entries) >= self._max_entries:
                    del self._entries[next(iter(self._entries))]
            self._entries[key] = _Entry(value, now + self._ttl_s)

    def invalidate(self, key: K) -> None:
        """Forget ``key``, and any read of it still under way."""
        with self._family.lock:
            self._generation += 1
            self._entries.pop(key, None)
