"""This process as a node of the fleet: its id, its heartbeat, and the sweep of calls
whose node is gone.

Every server process registers a ``nodes`` row at start-up and refreshes its
``heartbeat_at`` every ``node_heartbeat_interval_s``; every call names the node that
holds it (``calls.node_id``). A node silent for ``node_expiry_s``, or stopped, holds no
live call: at start-up and then at each heartbeat, every node ends such calls
(``server-restarted``, at the dead node's last heartbeat). A live node's calls are never
touched, so processes on one database no longer end each other's calls. A node that
drains (``runtime.drain``) records ``draining_since``: it has left the fleet's capacity
(``callwright nodes`` shows it), while its heartbeat goes on for the calls it still holds.

Heartbeats are compared across machines, so they are wall-clock times (``wall_clock``,
injectable: tests expire a node without sleeping); the database is the one source of
truth, so nodes need no other coordination.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callwright.clock import Clock, MonotonicClock
from callwright.domain.calls.nodes import (
    beat,
    mark_draining,
    prune_gone_nodes,
    register_node,
    stop_node,
)
from callwright.domain.calls.repository import sweep_orphaned_calls
from callwright.store.base import utcnow

__all__ = ["LocalNode", "SweptCalls", "WallClock", "new_node_id"]

logger = logging.getLogger(__name__)

WallClock = Callable[[], datetime]
# Told of the calls a sweep ended, in the sweep's transaction (their closing webhooks).
SweptCalls = Callable[[AsyncSession, Sequence[int]], Awaitable[None]]


def new_node_id() -> str:
    """Unique per process start: the host, the pid and a random part (a restarted
    process is a new node; its predecessor's calls are swept as a dead node's)."""
    host = socket.gethostname()[:40] or "node"
    return f"{host}-{os.getpid()}-{secrets.token_hex(4)}"


class LocalNode:
    """This process's node: ``start`` registers it and sweeps, ``run`` keeps its
    heartbeat and sweeps periodically (a lifespan task), ``drain`` records that it takes
    no new call, ``stop`` marks it stopped."""

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        *,
        heartbeat_interval_s: float,
        expiry_s: float,
        wall_clock: WallClock = utcnow,
        clock: Clock | None = None,
        node_id: str | None = None,
        on_swept: SweptCalls | None = None,
        after_beat: Callable[[], Awaitable[object]] | None = None,
    ) -> None:
        self.id = node_id or new_node_id()
        self._session_factory = session_factory
        self._interval_s = heartbeat_interval_s
        # Housekeeping that rides on the heartbeat (the runtime's reserved places).
        self._after_beat = after_beat
        self._expiry = timedelta(seconds=expiry_s)
        self._now = wall_clock
        self._clock = clock or MonotonicClock()
        self._on_swept = on_swept
        # No periodic sweep before this (clock time): set after a database outage.
        self._sweep_after = float("-inf")
        self._database_lost = False
        # When this node began draining (None: it takes calls).
        self.draining_since: datetime | None = None

    async def start(self) -> int:
        """Register this node, then end the calls of nodes that are gone; returns how
        many calls were ended."""
        async with self._session_factory.begin() as session:
            await register_node(
                session, self.id, hostname=socket.gethostname(), pid=os.getpid(), now=self._now()
            )
        return await self.sweep()

    async def sweep(self) -> int:
        """End the calls of nodes whose heartbeat expired (or that stopped), and forget
        those nodes once they hold no call; returns how many calls were ended."""
        now = self._now()
        live_since = now - self._expiry
        async with self._session_factory.begin() as session:
            ended = await sweep_orphaned_calls(session, live_since=live_since, now=now)
            if ended and self._on_swept is not None:
                await self._on_swept(session, ended)
            await prune_gone_nodes(session, live_since=live_since)
        if ended:
            logger.warning("ended %d call(s) held by nodes that are gone", len(ended))
        return len(ended)

    async def beat(self) -> None:
        """Refresh the heartbeat. A node that finds itself taken for dead (silent past
        the expiry: its calls may have been ended by another node) registers again."""
        async with self._session_factory.begin() as session:
            alive = await beat(session, self.id, self._now())
            if alive and self.draining_since is not None:
                # Again at each beat while draining: the first write may have failed.
                await mark_draining(session, self.id, self.draining_since)
        if not alive:
            logger.error(
                "node %s was taken for dead (no heartbeat for %s): registering again",
                self.id,
                self._expiry,
            )
            async with self._session_factory.begin() as session:
                await register_node(
                    session,
                    self.id,
                    hostname=socket.gethostname(),
                    pid=os.getpid(),
                    now=self._now(),
                    draining_since=self.draining_since,
                )

    async def drain(self) -> None:
        """Record that this node takes no new call from now on (the drain has begun):
        the fleet no longer counts it as capacity; its calls are live until they end.
        With the database unreachable the next heartbeat records it."""
        if self.draining_since is None:
            self.draining_since = self._now()
        try:
            async with self._session_factory.begin() as session:
                await mark_draining(session, self.id, self.draining_since)
        except (SQLAlchemyError, OSError):
            logger.exception("node %s: could not record its drain yet; retrying", self.id)

    async def run(self) -> None:
        """Heartbeat and sweep until cancelled. A database error skips one round (the
        database restarting must not stop the server); the next round tries again.

        After an outage every node's heartbeat is stale at once, so the first node
        back must not take the others for dead: this node sweeps again only once a
        full expiry has passed since its own first heartbeat after the outage, by
        which time every live node has beaten too."""
        while True:
            await self._clock.sleep(self._interval_s)
            try:
                await self.beat()
                if self._after_beat is not None:
                    await self._after_beat()
                if self._database_lost:
                    self._database_lost = False
                    self._sweep_after = self._clock.now() + self._expiry.total_seconds()
                    logger.warning(
                        "node %s: database back; sweeping again in %s", self.id, self._expiry
                    )
                if self._clock.now() >= self._sweep_after:
                    await self.sweep()
            except (SQLAlchemyError, OSError):
                self._database_lost = True
                logger.exception("node %s: heartbeat or sweep failed; retrying", self.id)

    async def stop(self) -> None:
        """Mark this node stopped (clean shutdown, after its calls ended): a call it
        still holds is swept by the next node at once. With the database unreachable
        the node is left to expire instead."""
        try:
            async with self._session_factory.begin() as session:
                await stop_node(session, self.id, self._now())
        except (SQLAlchemyError, OSError):
            logger.exception("node %s: could not record its stop; it will expire", self.id)
