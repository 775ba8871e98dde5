"""Freed memory given back to the system, so that a server process's resident size
follows what it holds, not the most it ever held.

glibc's ``malloc`` hands memory back to the kernel only from the top of its main heap
(and whole ``mmap``-ed blocks). A call allocates and frees many buffers (audio frames,
JSON, rows, sentences) between objects that live longer, so the pages it freed sit
*inside* the heap, below something still in use, and stay resident. The soak's
processes grew 5–8 MB a minute while nothing stayed reachable per call
(``benchmarks/call_memory.py``); one ``malloc_trim(0)`` on such a process gave back 42
of its 277 MB at once (decision 025). ``malloc_trim(0)`` releases the free pages
anywhere in the heap; here it runs every ``heap_trim_interval_s`` in a worker thread
(ctypes lets go of the GIL; the walk holds the main arena's lock for a few
milliseconds, during which the loop's own allocations wait). Where the C library is not
glibc (musl, macOS) there is nothing to call and nothing runs.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
from collections.abc import Callable

from callwright.clock import Clock, MonotonicClock

__all__ = ["glibc_malloc_trim", "return_free_memory"]


def glibc_malloc_trim() -> Callable[[], int] | None:
    """glibc's ``malloc_trim(0)`` (1 when it released memory), or None without glibc."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return None  # not glibc: musl and macOS have no malloc_trim
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int

    def trim_all() -> int:
        return int(trim(0))

    return trim_all


async def return_free_memory(
    interval_s: float, trim: Callable[[], int], *, clock: Clock | None = None
) -> None:
    """Every ``interval_s``, ``trim`` in a worker thread, until cancelled."""
    clock = clock or MonotonicClock()
    while True:
        await clock.sleep(interval_s)
        await asyncio.to_thread(trim)
