"""The call server's garbage-collector policy (decision 025).

Reference counting frees almost everything a call allocates per 20 ms frame; the cyclic
collector exists for the few cycles (tasks, futures, tracebacks, ORM sessions). With
CPython's default thresholds (700, 10, 10) a server holding 200 calls ran a young
collection every ~19 ms and, because the calls' own state keeps being promoted, a full
collection every ~2.3 s — each one walking every live call's objects with every call's
audio stalled behind it (up to 120 ms of CPU). Start-up's objects are frozen out of
the collector's sight once the app is up; after that the young generation is given
more room, so that a turn's short-lived objects die by reference count before the
collector examines them and young and middle passes come ~20 times less often. A full
pass still follows every second middle one: a finished call's object graph holds
cycles, and only a full pass frees it once it has grown old, so making full passes
rarer still would let finished calls' memory pile up.
"""

from __future__ import annotations

import gc
from typing import Final

__all__ = ["CALL_SERVER_GC_THRESHOLDS", "settle_heap"]

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
