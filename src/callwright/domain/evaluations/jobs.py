"""Test runs as durable jobs (the analysis jobs' pattern): a run is leased by
compare-and-set (``locked_until``), renewed as each test finishes; a lease left by a
dead worker expires and another worker resumes the run at its first unfinished test.
A test cut short by the crash runs again from the start.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import CursorResult, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callwright.store.base import utcnow
from callwright.store.models import TestResult, TestRun
from callwright.store.wakeups import CommitWakeups

__all__ = [
    "DONE",
    "PENDING",
    "RUNNING",
    "RunClaim",
    "TestRunJobs",
    "subscribe",
    "wake_after_commit",
]

PENDING = "pending"
RUNNING = "running"
DONE = "done"
UNFINISHED = (PENDING, RUNNING)

_WAKEUPS = CommitWakeups("test_runs")

subscribe = _WAKEUPS.subscribe
"""An event set when a run is committed in this process (workers wait on it)."""

wake_after_commit = _WAKEUPS.after_commit
"""Wake this process's workers once ``session`` commits."""


@dataclass(frozen=True, slots=True)
class RunClaim:
    """A run this worker holds until ``lease``."""

    id: int
    organization_id: int
    assistant_id: int
    assistant_version: int
    overrides: dict[str, Any]
    lease: datetime


def _changed(result: object) -> bool:
    return isinstance(result, CursorResult) and result.rowcount == 1


class TestRunJobs:
    """Every query a worker makes on runs and their results."""

    __test__ = False

    def __init__(self, sessions: async_sessionmaker[AsyncSession], lease: timedelta) -> None:
        self._sessions = sessions
        self._lease = lease

    async def claim(self, limit: int, *, now: datetime | None = None) -> list[RunClaim]:
        """Lease up to ``limit`` unfinished, unheld runs, oldest first."""
        now = now or utcnow()
        lease = now + self._lease
        free = or_(TestRun.locked_until.is_(None), TestRun.locked_until < now)
        claims = []
        async with self._sessions() as session:
            due = await session.execute(
                select(TestRun)
                .where(TestRun.status.in_(UNFINISHED), free)
                .order_by(TestRun.id)
                .limit(limit)
            )
            for run in due.scalars().all():
                taken = await session.execute(
                    update(TestRun)
                    .where(
                        TestRun.id == run.id,
                        TestRun.attempts == run.attempts,
                        TestRun.status.in_(UNFINISHED),
                        free,
                    )
                    .values(
                        locked_until=lease,
                        status=RUNNING,
                        attempts=run.attempts + 1,
                        started_at=run.started_at or now,
                        updated_at=now,
                    )
                    .execution_options(synchronize_session=False)
                )
                if _changed(taken):
                    claims.append(
                        RunClaim(
                            run.id,
                            run.organization_id,
                            run.assistant_id,
                            run.assistant_version,
                            dict(run.overrides),
                            lease,
                        )
                    )
            await session.commit()
        return claims

    async def next_result(self, claim: RunClaim) -> TestResult | None:
        """The run's first unfinished test, marked running (detached from its session)."""
        async with self._sessions() as session:
            result = (
                await session.execute(
                    select(TestResult)
                    .where(TestResult.run_id == claim.id, TestResult.status.in_(UNFINISHED))
                    .order_by(TestResult.position)
                    .limit(1)
                )
            ).scalar_one_or_none()
            if result is None:
                return None
            result.status = RUNNING
            result.started_at = utcnow()
            await session.commit()
            session.expunge(result)
            return result

    async def settle(
        self, claim: RunClaim, result_id: int, values: dict[str, Any]
    ) -> RunClaim | None:
        """Store a test's outcome and renew the lease; None when the lease was lost
        (another worker took the run over: its outcome counts)."""
        now = utcnow()
        lease = now + self._lease
        async with self._sessions() as session:
            renewed = await session.execute(
                update(TestRun)
                .where(TestRun.id == claim.id, TestRun.locked_until == claim.lease)
                .values(locked_until=lease, updated_at=now)
                .execution_options(synchronize_session=False)
            )
            if not _changed(renewed):
                await session.rollback()
                return None
            await session.execute(
                update(TestResult)
                .where(TestResult.id == result_id)
                .values(**values, finished_at=now)
                .execution_options(synchronize_session=False)
            )
            await session.commit()
        return RunClaim(
            claim.id,
            claim.organization_id,
            claim.assistant_id,
            claim.assistant_version,
            claim.overrides,
            lease,
        )

    async def finish(self, claim: RunClaim, *, error: str | None = None) -> None:
        """The run is over (every test settled, or it cannot run: ``error``, and its
        unfinished tests are marked errored with it)."""
        now = utcnow()
        async with self._sessions() as session:
            done = await session.execute(
                update(TestRun)
                .where(TestRun.id == claim.id, TestRun.locked_until == claim.lease)
                .values(
                    status=DONE, locked_until=None, error=error, finished_at=now, updated_at=now
                )
                .execution_options(synchronize_session=False)
            )
            if _changed(done) and error is not None:
                await session.execute(
                    update(TestResult)
                    .where(TestResult.run_id == claim.id, TestResult.status.in_(UNFINISHED))
                    .values(status="error", error=error, finished_at=now)
                    .execution_options(synchronize_session=False)
                )
            await session.commit()

    async def release(self, claim: RunClaim) -> None:
        """Hand a run back (shutdown): the test it was on runs again."""
        async with self._sessions() as session:
            await session.execute(
                update(TestRun)
                .where(TestRun.id == claim.id, TestRun.locked_until == claim.lease)
                .values(locked_until=None)
                .execution_options(synchronize_session=False)
            )
            await session.commit()
