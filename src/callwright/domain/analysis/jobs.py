"""The analysis jobs as workers share them (the webhook outbox's pattern): ``schedule``
adds or restarts a call's job in the caller's transaction; ``AnalysisJobs`` claims due
jobs by compare-and-set under a lease (a dead worker's lease expires and another takes
the job over: a restart resumes it), and settles or postpones each under its lease.

A re-run raises the job's ``generation`` and drops its lease, so a worker still busy
with the run it replaced finds its lease gone and writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, CursorResult, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callwright.domain.calls.repository import write_analysis
from callwright.store.base import utcnow
from callwright.store.models import AnalysisJob, Call
from callwright.store.wakeups import CommitWakeups

__all__ = ["DONE", "PENDING", "AnalysisJobs", "JobClaim", "schedule", "subscribe"]

PENDING = "pending"
DONE = "done"

_WAKEUPS = CommitWakeups("analysis")

subscribe = _WAKEUPS.subscribe
"""An event set when a job of this process's is committed (workers wait on it)."""


async def schedule(session: AsyncSession, call: Call) -> None:
    """Queue ``call``'s analysis (again, for a re-run) in the caller's transaction; the
    call's analysis reads ``pending`` until a worker settles it."""
    now = utcnow()
    job = (
        await session.execute(select(AnalysisJob).where(AnalysisJob.call_id == call.id))
    ).scalar_one_or_none()
    if job is None:
        session.add(
            AnalysisJob(
                organization_id=call.organization_id,
                call_id=call.id,
                status=PENDING,
                generation=1,
                attempts=0,
                next_attempt_at=now,
                created_at=now,
                updated_at=now,
            )
        )
    else:
        job.status = PENDING
        job.generation += 1
        job.attempts = 0
        job.next_attempt_at = now
        job.locked_until = None
        job.last_error = None
        job.updated_at = now
    write_analysis(
        call,
        {
            "summary": None,
            "structured_data": None,
            "success_evaluation": None,
            "status": "pending",
            "error": None,
        },
    )
    _WAKEUPS.after_commit(session)


@dataclass(frozen=True, slots=True)
class JobClaim:
    """A job this worker holds until ``lease``."""

    id: int
    call_id: int
    organization_id: int
    generation: int
    attempts: int
    lease: datetime


def _changed(result: object) -> bool:
    return isinstance(result, CursorResult) and result.rowcount == 1


class AnalysisJobs:
    """Every query a worker makes on the jobs."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], lease: timedelta) -> None:
        self._sessions = sessions
        self._lease = lease

    async def claim(self, limit: int, *, now: datetime | None = None) -> list[JobClaim]:
        """Lease up to ``limit`` due jobs, oldest due first."""
        now = now or utcnow()
        lease = now + self._lease
        free = or_(AnalysisJob.locked_until.is_(None), AnalysisJob.locked_until < now)
        claims = []
        async with self._sessions() as session:
            due = await session.execute(
                select(
                    AnalysisJob.id,
                    AnalysisJob.call_id,
                    AnalysisJob.organization_id,
                    AnalysisJob.generation,
                    AnalysisJob.attempts,
                )
                .where(AnalysisJob.status == PENDING, AnalysisJob.next_attempt_at <= now, free)
                .order_by(AnalysisJob.next_attempt_at, AnalysisJob.id)
                .limit(limit)
            )
            for row in due.all():
                # Compare-and-set: of two workers seeing the job, one UPDATE matches.
                taken = await session.execute(
                    update(AnalysisJob)
                    .where(
                        AnalysisJob.id == row.id,
                        AnalysisJob.status == PENDING,
                        AnalysisJob.generation == row.generation,
                        AnalysisJob.attempts == row.attempts,
                        free,
                    )
                    .values(locked_until=lease)
                    .execution_options(synchronize_session=False)
                )
                if _changed(taken):
                    claims.append(JobClaim(**row._asdict(), lease=lease))
            await session.commit()
        return claims

    @staticmethod
    def _held(claim: JobClaim) -> list[ColumnElement[bool]]:
        return [
            AnalysisJob.id == claim.id,
            AnalysisJob.generation == claim.generation,
            AnalysisJob.locked_until == claim.lease,
        ]

    async def finish(self, session: AsyncSession, claim: JobClaim) -> bool:
        """Mark the job done in ``session``'s transaction (with the analysis it wrote):
        whether the lease was still held. When not, the caller rolls back."""
        result = await session.execute(
            update(AnalysisJob)
            .where(*self._held(claim))
            .values(
                status=DONE, attempts=claim.attempts + 1, locked_until=None, updated_at=utcnow()
            )
            .execution_options(synchronize_session=False)
        )
        return _changed(result)

    async def postpone(self, claim: JobClaim, error: str, at: datetime) -> None:
        """Try the job again at ``at`` (a provider failed); ``error`` is kept."""
        async with self._sessions() as session:
            await session.execute(
                update(AnalysisJob)
                .where(*self._held(claim))
                .values(
                    attempts=claim.attempts + 1,
                    next_attempt_at=at,
                    locked_until=None,
                    last_error=error,
                    updated_at=utcnow(),
                )
                .execution_options(synchronize_session=False)
            )
            await session.commit()

    async def release(self, claim: JobClaim) -> None:
        """Hand a job back unattempted (shutdown)."""
        async with self._sessions() as session:
            await session.execute(
                update(AnalysisJob)
                .where(*self._held(claim))
                .values(locked_until=None)
                .execution_options(synchronize_session=False)
            )
            await session.commit()
