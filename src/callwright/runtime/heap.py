"""A call server's heap: the garbage collector's policy (``settle_heap``, decision 025)
and freed memory given back to the system (``return_free_memory``, decision 026).

**The collector.**
Reference counting frees almost everything a call allocates per 20 ms frame; the cyclic
collector exists for the few cycles (tasks, futures, tracebacks, ORM sessions). With
CPython's default thresholds (700, 10, 10) a server holding 200 calls ran a young
collection every ~19 ms and, because the calls' own state keeps being promoted, a full
collection every ~2.3 s — each one walking every live call's objects with every call's
audio stalled behind it (up to 120 ms of CPU). Start-up's objects are frozen out of
the collector's sight once the app is up; after that the young generation is given
more room, so that a turn's short-lived objects die by reference count before the
collector examines them and young and middle passes come ~20 times less often. A full
pass still follows every second middle one: that was chosen while a finished call's
object graph held cycles that only a full pass freed. A finished call is now freed by
reference counting (``engine.tasks``), so what full passes find is the libraries'
garbage (query expressions, HTTP clients), not the calls'.

**Freed memory.** So that a server process's resident size follows what it holds, not the most it
ever held: glibc's ``malloc`` hands memory back to the kernel only from the top of its main heap
(and whole ``mmap``-ed blocks). A call allocates and frees many buffers (audio frames,
JSON, rows, sentences) between objects that live longer, so the pages it freed sit
*inside* the heap, below something still in use, and stay resident. The soak's
processes grew 5–8 MB a minute while nothing stayed reachable per call
(``benchmarks/call_memory.py``); one ``malloc_trim(0)`` on such a process gave back 42
of its 277 MB at once (decision 026). ``malloc_trim(0)`` releases the free pages
anywhere in the heap; here it runs every ``heap_trim_interval_s`` in a worker thread
(ctypes lets go of the GIL; the walk holds the main arena's lock for a few
milliseconds, during which the loop's own allocations wait). Where the C library is not
glibc (musl, macOS) there is nothing to call and nothing runs.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import gc
from collections.abc import Callable
from typing import Final

from callwright.clock import Clock, MonotonicClock

__all__ = ["CALL_SERVER_GC_THRESHOLDS", "glibc_malloc_trim", "return_free_memory", "settle_heap"]

# (young, middle, old): a young collection after this many net container allocations;
# a middle one after more than ``middle`` young ones; a full one after more than ``old``
# middle ones (and then only when a quarter of the old generation is new since the
# last full pass).
CALL_SERVER_GC_THRESHOLDS: Final = (10_000, 10, 1)


def settle_heap(thresholds: tuple[int, int, int] = CALL_SERVER_GC_THRESHOLDS) -> int:
    """Collect, freeze what is alive now (modules, schemas, models: they live as long
    as the process) and set the collector's ``thresholds``. Returns the number of
    objects frozen. For the server process once it is up, not for tests that build
    many apps in one process."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*thresholds)
    return gc.get_freeze_count()


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
