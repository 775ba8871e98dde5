"""Draining a node before it stops (SIGTERM or SIGINT to a server process).

The first signal starts the drain instead of stopping the server:

1. new calls are refused (a web or outbound call gets a 503, a Twilio inbound call
   ``<Reject reason="busy"/>``, the campaign scheduler claims no row) and ``/readyz``
   answers 503, so the load balancer in front of the fleet takes the node out of
   rotation; its ``nodes`` row records ``draining_since``, so the fleet no longer counts
   it as capacity (its heartbeat goes on: its calls are live, must not be swept, and
   still count against their organization's limit until they end);
2. the calls in progress go on until they end or ``drain_timeout_s`` has passed;
3. the calls still up then say their assistant's end-call message and hang up with
   ``server-shutdown`` (records and webhooks as for any other ending);
4. the end-of-call webhooks of this node's calls are given up to
   ``drain_webhooks_timeout_s`` to be delivered here; whatever is left stays in the
   durable outbox for another node's dispatcher (or this one's next start).

Only then is the server's own handler (uvicorn's) given the signal, and the server stops
as usual. While draining, SIGINT (a second Ctrl-C) stops it at once, cutting the calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from collections.abc import AsyncIterator, Callable
from types import FrameType

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callwright.domain.webhooks.outbox import PENDING, subscribe
from callwright.engine.events import EndReason
from callwright.runtime.calls import CallRuntime
from callwright.runtime.nodes import LocalNode
from callwright.store.models import Call, WebhookEvent

__all__ = ["DRAIN_SIGNALS", "Drain", "signal_drain"]

logger = logging.getLogger(__name__)

DRAIN_SIGNALS = (signal.SIGTERM, signal.SIGINT)
# How long the calls still up at the deadline have to say their goodbye.
_GOODBYE_S = 15.0
# Between two looks at the outbox when no delivery in this process woke the wait.
_OUTBOX_POLL_S = 0.5
_SHUTDOWN_DETAIL = "the server shut down during the call"


class Drain:
    """One node's drain: ``request`` it (once; again is a no-op), ``run`` carries it
    out when requested (a lifespan task)."""

    def __init__(
        self,
        calls: CallRuntime,
        node: LocalNode,
        session_factory: async_sessionmaker[AsyncSession],
        *,
        timeout_s: float,
        webhooks_timeout_s: float,
        deliver_here: bool,
    ) -> None:
        self._calls = calls
        self._node = node
        self._node_id = node.id
        self._session_factory = session_factory
        self._timeout_s = timeout_s
        self._webhooks_timeout_s = webhooks_timeout_s
        # This process runs a webhook dispatcher (else the outbox is left to others).
        self._deliver_here = deliver_here
        self._requested = asyncio.Event()

    @property
    def requested(self) -> bool:
        return self._requested.is_set()

    def request(self) -> None:
        self._requested.set()

    async def run(self, then: Callable[[], None]) -> None:
        """Wait for the request, drain, then call ``then`` (stop the server) — after a
        drain that failed too, so that the server stops all the same. Until cancelled:
        the server stopping for another reason."""
        await self._requested.wait()
        try:
            await self._drain()
        except Exception:
            logger.exception("node %s: the drain failed; stopping now", self._node_id)
        then()

    async def _drain(self) -> None:
        calls = self._calls
        calls.draining = True
        logger.warning(
            "draining node %s: new calls refused; %d call(s) in progress have %.0f s to end",
            self._node_id,
            calls.active_calls,
            self._timeout_s,
        )
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._timeout_s):
                # Within the deadline: a slow database delays no goodbye (the heartbeat
                # records the drain if this write is cut short).
                await self._node.drain()
                await calls.wait_idle()
        if calls.active_calls:
            logger.warning(
                "drain deadline: ending %d call(s) with %s",
                calls.active_calls,
                EndReason.SERVER_SHUTDOWN.value,
            )
            await calls.close_all(EndReason.SERVER_SHUTDOWN, _SHUTDOWN_DETAIL, _GOODBYE_S)
        if self._deliver_here:
            await self._deliver_webhooks()
        logger.warning("node %s drained", self._node_id)

    async def _deliver_webhooks(self) -> None:
        """Wait (bounded) until this node's calls have no webhook awaiting its first
        attempt: the dispatcher, still running, delivers them. Events being retried
        with back-off, and any left at the bound, stay in the outbox for other nodes."""
        with subscribe() as wake, contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._webhooks_timeout_s):
                while left := await self._undelivered():
                    logger.info("drain: %d webhook(s) of this node's calls to deliver", left)
                    wake.clear()
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(_OUTBOX_POLL_S):
                            await wake.wait()
                return
        logger.warning("drain: webhooks not delivered in time are left in the outbox")

    async def _undelivered(self) -> int:
        try:
            async with self._session_factory() as session:
                count = await session.scalar(
                    select(func.count())
                    .select_from(WebhookEvent)
                    .join(Call, Call.id == WebhookEvent.call_id)
                    .where(
                        Call.node_id == self._node_id,
                        WebhookEvent.status == PENDING,
                        WebhookEvent.attempts == 0,
                    )
                )
        except (SQLAlchemyError, OSError):
            logger.warning("drain: the outbox cannot be read; leaving it to other nodes")
            return 0
        return int(count or 0)


SignalHandler = Callable[[int, FrameType | None], object] | int | None


def _nothing() -> None:
    return None


@contextlib.asynccontextmanager
async def signal_drain(drain: Drain, *, enabled: bool) -> AsyncIterator[Callable[[], None]]:
    """With ``enabled`` (a server process: main thread), route SIGTERM and SIGINT to
    ``drain`` while the app serves. Yields ``stop_server``: once the drain has finished,
    it hands the first signal to the handler that was installed before (uvicorn's: the
    server then stops as usual). While draining, SIGINT is handed on at once (a second
    Ctrl-C); SIGTERM again is ignored (a supervisor's repeat). The previous handlers
    are back when the block ends. Not enabled (apps in tests): signals are left alone
    and ``stop_server`` does nothing."""
    if not enabled:
        yield _nothing
        return
    if threading.current_thread() is not threading.main_thread():
        logger.warning("signals reach only the main thread: this server will not drain")
        yield _nothing
        return
    loop = asyncio.get_running_loop()
    previous: dict[int, SignalHandler] = {sig: signal.getsignal(sig) for sig in DRAIN_SIGNALS}
    first: list[int] = []

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    def hand_on(sig: int) -> None:
        restore()
        signal.raise_signal(sig)

    def begin(sig: int) -> None:
        logger.warning("%s: draining before stopping", signal.Signals(sig).name)
        drain.request()

    def stop_now(sig: int) -> None:
        logger.warning("SIGINT while draining: stopping now")
        hand_on(sig)

    def on_signal(sig: int, _frame: FrameType | None) -> None:
        # Nothing but bookkeeping here: the work (and its logging) runs on the loop.
        if not first:
            first.append(sig)
            loop.call_soon_threadsafe(begin, sig)
        elif sig == signal.SIGINT:
            loop.call_soon_threadsafe(stop_now, sig)

    def stop_server() -> None:
        hand_on(first[0] if first else signal.SIGTERM)

    for sig in DRAIN_SIGNALS:
        signal.signal(sig, on_signal)
    try:
        yield stop_server
    finally:
        restore()
