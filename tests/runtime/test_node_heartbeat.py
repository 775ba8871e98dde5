"""What rides on a node's heartbeat: the runtime's housekeeping (giving back the places
of calls whose stream reached a sibling worker) runs after each beat."""

from __future__ import annotations

import asyncio

from fastapi import FastAPI

from callwright.clock import VirtualClock
from callwright.runtime.nodes import LocalNode


async def test_housekeeping_runs_after_each_heartbeat(app: FastAPI) -> None:
    clock = VirtualClock()
    ran: asyncio.Queue[float] = asyncio.Queue()

    async def after_beat() -> None:
        await ran.put(clock.now())

    node = LocalNode(
        app.state.callwright.session_factory,
        heartbeat_interval_s=1,
        expiry_s=10,
        clock=clock,
        node_id=app.state.callwright.node.id,
        after_beat=after_beat,
    )

    async def next_run() -> float:
        # The beat and the sweep do real database work between the clock's steps.
        while ran.empty():
            await clock.advance(1)
            await asyncio.sleep(0.01)
        return await ran.get()

    async with asyncio.TaskGroup() as group:
        running = group.create_task(node.run())
        first = await next_run()
        second = await next_run()
        running.cancel()
    assert 1.0 <= first < second


def test_the_server_gives_back_places_on_its_heartbeat(app: FastAPI) -> None:
    state = app.state.callwright
    assert state.node._after_beat == state.calls.settle_places
