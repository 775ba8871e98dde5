"""The call server's collector policy (decision 025): once the server process is up,
what it holds is frozen out of the collector's passes and the collector runs with the
call server's thresholds; an app built for tests leaves the collector alone."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from callwright.api.app import create_app
from callwright.runtime.heap import CALL_SERVER_GC_THRESHOLDS, settle_heap
from callwright.settings import Settings


@pytest.fixture
def collector() -> Iterator[None]:
    """The test process's collector as it was, afterwards (unfrozen, same thresholds)."""
    thresholds = gc.get_threshold()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)


def tracked(obj: object) -> bool:
    """Whether a full collection would walk ``obj`` (frozen objects are not)."""
    return any(candidate is obj for candidate in gc.get_objects())


@pytest.mark.usefixtures("collector")
def test_settle_heap_freezes_what_lives_and_sets_the_thresholds() -> None:
    held: list[object] = [{}]
    held.append(held)  # a cycle: only the collector could ever free it
    assert tracked(held)
    frozen = settle_heap((5_000, 7, 9))
    assert frozen == gc.get_freeze_count() > 0
    assert not tracked(held)
    assert gc.get_threshold() == (5_000, 7, 9)
    after: list[object] = []
    assert tracked(after)  # what calls allocate later is collected as usual


@pytest.mark.usefixtures("collector")
async def test_the_server_process_settles_its_heap_once_up(settings: Settings) -> None:
    gc.set_threshold(700, 10, 10)
    app = create_app(settings, freeze_heap_after_startup=True)
    async with app.router.lifespan_context(app):
        assert gc.get_threshold() == CALL_SERVER_GC_THRESHOLDS
        assert gc.get_freeze_count() > 0


@pytest.mark.usefixtures("collector")
async def test_an_app_for_tests_leaves_the_collector_alone(settings: Settings) -> None:
    gc.set_threshold(700, 10, 10)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        assert gc.get_threshold() == (700, 10, 10)
