"""Synthesised greetings kept in the process, so a call's first words leave at once.

An assistant's static first message is synthesised on its first call and its audio
kept here (the engine's ``SpeechCache``); every later call of that assistant sends it
as soon as the stream starts. The key names the assistant, the voice and all its
settings, the transport's rate and the text, so an edit to any of them is a new entry;
the old one ages out. The cache is bounded by entries and bytes, least recently used
first out.
"""

from __future__ import annotations

from collections import OrderedDict

__all__ = ["GreetingCache"]

_MAX_BYTES = 32 * 1024 * 1024
_MAX_ENTRIES = 1024


class GreetingCache:
    """A bounded LRU of synthesised audio (the chunks as they were sent). An entry
    larger than a quarter of ``max_bytes`` is not kept: one long text must not empty
    the cache of everyone's greetings."""

    def __init__(self, *, max_bytes: int = _MAX_BYTES, max_entries: int = _MAX_ENTRIES) -> None:
        if max_bytes <= 0 or max_entries <= 0:
            raise ValueError("a greeting cache needs room for at least one entry")
        self._max_bytes = max_bytes
        self._max_entries = max_entries
        self._entries: OrderedDict[str, tuple[bytes, ...]] = OrderedDict()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def size_bytes(self) -> int:
        """The audio held, in bytes."""
        return self._bytes

    def get(self, key: str) -> tuple[bytes, ...] | None:
        chunks = self._entries.get(key)
        if chunks is not None:
            self._entries.move_to_end(key)
        return chunks

    def put(self, key: str, chunks: tuple[bytes, ...]) -> None:
        size = sum(len(chunk) for chunk in chunks)
        if size == 0 or size > self._max_bytes // 4:
            return
        previous = self._entries.pop(key, None)
        if previous is not None:
            self._bytes -= sum(len(chunk) for chunk in previous)
        self._entries[key] = chunks
        self._bytes += size
        while self._bytes > self._max_bytes or len(self._entries) > self._max_entries:
            _, evicted = self._entries.popitem(last=False)
            self._bytes -= sum(len(chunk) for chunk in evicted)
