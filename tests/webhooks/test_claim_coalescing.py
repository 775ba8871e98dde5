"""A burst of commits wakes the dispatcher once per commit; it serves them with a few
claims, not one each, and still delivers every event exactly once, in order per call."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callwright.domain.webhooks.dispatcher import _GATHER_S, WebhookDispatcher
from callwright.domain.webhooks.leases import Claim
from callwright.settings import Settings
from callwright.store.database import create_engine, create_session_factory
from tests.conftest import Tenant
from tests.webhooks.conftest import add_call, all_delivered, enqueue_events, eventually
from tests.webhooks.receiver import Receiver

CALLS = 16
EVENTS_PER_CALL = 2
# Slower than the burst takes to commit and claim: while the burst is counted, no
# finished delivery wakes the dispatcher, only the commits do.
RECEIVER_DELAY_S = 1.0


class CountingDispatcher(WebhookDispatcher):
    """The real dispatcher, counting its claims and the events they took."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.claims = 0
        self.claimed = 0

    async def _claim(self, limit: int) -> list[Claim]:
        self.claims += 1
        taken = await super()._claim(limit)
        self.claimed += len(taken)
        return taken


@asynccontextmanager
async def counting_dispatcher(settings: Settings) -> AsyncIterator[CountingDispatcher]:
    """A dispatcher on its own engine (as another process would have), running for the
    block, cancelled at its end."""
    engine = create_engine(settings.resolved_database_url)
    dispatcher = CountingDispatcher(create_session_factory(engine), settings)
    try:
        async with asyncio.TaskGroup() as group:
            task = group.create_task(dispatcher.run())
            try:
                yield dispatcher
            finally:
                task.cancel()
    finally:
        await engine.dispose()


def holds(condition: Callable[[], bool]) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return condition()

    return check


async def commit_back_to_back(
    sessions: async_sessionmaker[AsyncSession], org: int, url: str, calls: list[int]
) -> list[list[str]]:
    """Each call's events, one transaction per event (each commit wakes the dispatcher),
    the calls taking turns as live calls do; the ids of each call's events in order."""
    sequences: list[list[str]] = [[] for _ in calls]
    for _ in range(EVENTS_PER_CALL):
        for sequence, call in zip(sequences, calls, strict=True):
            sequence += await enqueue_events(sessions, org, url, 1, call_id=call)
    return sequences


async def test_a_burst_of_commits_is_claimed_in_far_fewer_claims_than_events(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], tenant: Tenant
) -> None:
    # No poll during the test (only wake-ups make claims); a slot for every call.
    settings = settings.model_copy(
        update={"webhook_poll_interval_seconds": 60, "webhook_max_concurrent_deliveries": 2 * CALLS}
    )
    receiver = Receiver()
    receiver.delay_s = RECEIVER_DELAY_S
    org = tenant.organization_id
    calls = [await add_call(sessions, org) for _ in range(CALLS)]
    events = CALLS * EVENTS_PER_CALL

    async with receiver.serving(), counting_dispatcher(settings) as dispatcher:
        await eventually(holds(lambda: dispatcher.claims >= 1))  # its first look: empty
        claims_before = dispatcher.claims
        started = time.monotonic()
        sequences = await commit_back_to_back(sessions, org, receiver.url, calls)
        burst_s = time.monotonic() - started
        # Every call's first event is claimed; the second waits for it to be delivered.
        await eventually(holds(lambda: dispatcher.claimed == CALLS))
        await asyncio.sleep(0.1)  # any claim still to come for the burst's wake-ups
        assert receiver.requests == []  # no delivery has finished: commits woke it
        burst_claims = dispatcher.claims - claims_before
        await eventually(all_delivered(sessions))

    # While wake-ups keep coming, at most one claim per gather interval (and one more
    # for the claim under way and the last commit's wake-up) ...
    assert burst_claims <= burst_s / _GATHER_S + 3
    # ... which is far fewer than one per commit (claiming at once, about 25 of 32).
    assert burst_claims <= events // 2
    assert dispatcher.claimed == events
    assert len(receiver.requests) == events  # not a single duplicate attempt
    assert receiver.accepted() == dict.fromkeys([e for s in sequences for e in s], 1)
    for sequence in sequences:
        assert [r.event_id for r in receiver.requests if r.event_id in sequence] == sequence
