"""The campaign scheduler: one task per server process, any number of processes.

Each pass (``tick``) settles rows whose calls ended, then claims and dials each running
campaign's due rows (``claims`` explains why neither the cap nor a row is ever shared),
then completes campaigns with nothing left. Time comes from the ``wall`` it is handed
(tests step it), and it sleeps on the ``clock`` it is handed between passes. A dial
refused for want of room (this process full, or the organization at its concurrent-call
limit: both ``ServiceBusy``) hands its row back, tried again shortly, not an attempt.
A process that is draining (``taking_calls`` says no) claims nothing: its rows are left
to the schedulers of the nodes still taking calls, at once, rather than claimed here,
refused and held back; it still records the outcomes of calls that end.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callwright.clock import Clock
from callwright.domain.accounts.call_limit import LiveCallCount
from callwright.errors import CallwrightError, ServiceBusy
from callwright.store.base import utcnow

from .claims import CampaignClaims, Claim
from .dialer import Dialer
from .settling import CampaignSettling, Finished

__all__ = ["CampaignScheduler", "TickReport"]

logger = logging.getLogger(__name__)

# A process with no room for another call hands its claims back for this long.
_BUSY_RETRY = timedelta(seconds=30)
# Dials in flight at once per process: each is one request to the carrier. On SQLite
# one: a dial holds the database's write lock from the call's insert until Twilio has
# answered, and dials queued behind it would run out of busy timeout.
_DIAL_CONCURRENCY = 8


class TickReport:
    """What one pass did (for tests and logs)."""

    __slots__ = ("dialled", "failed", "finished", "settled")

    def __init__(self) -> None:
        self.dialled: list[Claim] = []
        self.failed: list[Claim] = []
        self.settled = 0
        self.finished: list[Finished] = []


class CampaignScheduler:
    """Dials campaigns until cancelled. A lease outlives the slowest dial, so only a
    dead scheduler loses one."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        dialer: Dialer,
        *,
        clock: Clock,
        wall: Callable[[], datetime] = utcnow,
        poll_seconds: float = 2.0,
        dial_lease: timedelta = timedelta(minutes=2),
        live_calls: LiveCallCount | None = None,
        taking_calls: Callable[[], bool] = lambda: True,
    ) -> None:
        self._sessions = sessions
        # False once this process drains (``runtime.drain``): no claim from then on.
        self._taking_calls = taking_calls
        self._dialer = dialer
        self._clock = clock
        self._wall = wall
        self._poll_seconds = poll_seconds
        self._claims = CampaignClaims(sessions, dial_lease, live_calls)
        self._settling = CampaignSettling(sessions)
        bind = sessions.kw.get("bind")
        single_writer = bind is not None and bind.dialect.name == "sqlite"
        self._dial_concurrency = 1 if single_writer else _DIAL_CONCURRENCY

    async def run(self) -> None:
        while True:
            try:
                await self.tick()
            except* (SQLAlchemyError, OSError):
                # The database is down or refused this pass (a refused connection is an
                # OSError, not wrapped by SQLAlchemy): leases bound what it left half
                # done; the next pass starts over. Never the server's end.
                logger.exception("campaign scheduler pass failed")
            await self._clock.sleep(self._poll_seconds)

    async def tick(self) -> TickReport:
        report = TickReport()
        report.settled = await self._settling.record_outcomes(self._wall())
        running = await self._claims.running() if self._taking_calls() else []
        for campaign_id in running:
            claims = await self._claims.claim(campaign_id, self._wall())
            if not claims:
                continue
            slots = asyncio.Semaphore(self._dial_concurrency)
            async with asyncio.TaskGroup() as dials:
                for claim in claims:
                    dials.create_task(self._dial(claim, slots, report))
        report.finished = await self._settling.finish(self._wall())
        return report

    async def _dial(self, claim: Claim, slots: asyncio.Semaphore, report: TickReport) -> None:
        async with slots:
            if not await self._claims.start_dial(claim, self._wall()):
                logger.error(
                    "campaign %d recipient %d lost its lease before its dial",
                    claim.campaign_id,
                    claim.recipient_id,
                )
                return
            try:
                async with self._sessions() as session:
                    call_id = await self._dialer.dial(session, claim)
                    if not await self._claims.record_call(session, claim, call_id, self._wall()):
                        logger.error(
                            "campaign %d recipient %d lost its lease while dialling (call %d)",
                            claim.campaign_id,
                            claim.recipient_id,
                            call_id,
                        )
                    await session.commit()
            except (SQLAlchemyError, OSError):
                # Its lease expires and the row is settled as interrupted: the call may
                # have been placed before the database failed.
                logger.exception(
                    "campaign %d recipient %d: the database failed while dialling",
                    claim.campaign_id,
                    claim.recipient_id,
                )
                return
            except ServiceBusy:
                now = self._wall()
                await self._claims.release(claim, now + _BUSY_RETRY, now)
                return
            except CallwrightError as exc:
                logger.warning(
                    "campaign %d could not call recipient %d: %s",
                    claim.campaign_id,
                    claim.recipient_id,
                    exc.message,
                )
                await self._claims.dial_failed(claim, exc.message, self._wall())
                report.failed.append(claim)
                return
            report.dialled.append(claim)
