"""Delivering the webhook outbox: claim due events with a lease, POST them signed,
log every attempt, retry with back-off, give up after the last attempt (decision 008).

Each request::

    POST <url>
    Content-Type: application/json
    X-Callwright-Event-Id: evt_<32 hex>      (the same on every retry: de-duplicate on it)
    X-Callwright-Event-Type: end-of-call-report
    X-Callwright-Attempt: 1
    X-Callwright-Timestamp: <unix seconds, at this attempt>
    X-Callwright-Signature: v1=<hex HMAC-SHA256(org secret, "<timestamp>.<raw body>")>

A 2xx answer delivers the event; anything else (another status, a refused connection,
no answer within the timeout) is a failed attempt. Delivery is at least once: an
attempt whose outcome could not be recorded (crash, database down) is made again, so
receivers de-duplicate on the event id. Events of one call to one URL go in order,
one at a time; other events go concurrently, a few at once.

Every outbox commit and every finished delivery wakes the dispatcher. It then waits
``_GATHER_S`` (15 ms) before it claims, so that a burst of wake-ups is served by one
claim instead of one each. The price is latency: an event's delivery starts up to
15 ms later than the wake-up that made it due (its commit, or the end of the delivery
before it in its call's order), so a call's queued events pay it once per step. An
event found by the periodic poll pays nothing.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import random
import time
from collections.abc import Callable
from datetime import timedelta

import httpx
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callwright import __version__
from callwright.domain.signing_secrets import SigningSecretCache
from callwright.observability import metrics
from callwright.security.crypto import SecretDecryptionError
from callwright.security.outbound import OutboundPolicy, OutboundRefused
from callwright.security.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from callwright.settings import Settings
from callwright.store.base import utcnow

from .leases import Attempt, Claim, OutboxLeases
from .outbox import DELIVERED, FAILED, PENDING, subscribe

__all__ = [
    "ATTEMPT_HEADER",
    "EVENT_ID_HEADER",
    "EVENT_TYPE_HEADER",
    "WebhookDispatcher",
    "retry_delay",
]

logger = logging.getLogger(__name__)

EVENT_ID_HEADER = "X-Callwright-Event-Id"
EVENT_TYPE_HEADER = "X-Callwright-Event-Type"
ATTEMPT_HEADER = "X-Callwright-Attempt"
# A lease outlives the longest attempt by this much, so that only a dead holder loses it.
_LEASE_MARGIN_S = 30.0
_RELEASE_TIMEOUT_S = 5.0
_ERROR_BODY_BYTES = 300
_MAX_RESTART_DELAY_S = 60.0
# After a wake-up (not after a poll timed out), wait this long before claiming: the
# commits and finished deliveries of a burst wake the dispatcher within milliseconds
# of each other, and one claim then serves them all. Bounds the latency it adds.
_GATHER_S = 0.015


def retry_delay(
    attempts: int, *, base_s: float, max_s: float, rng: Callable[[], float] = random.random
) -> float:
    """Seconds before the next try after ``attempts`` failed ones: base·2^(attempts−1),
    capped at ``max_s``, of which the upper half is random ("equal jitter"), so that
    events failing together do not all come back at the same instant."""
    ceiling = min(max_s, base_s * 2.0 ** min(max(attempts - 1, 0), 60))
    return ceiling / 2 + rng() * ceiling / 2


class WebhookDispatcher:
    """Delivers due outbox events until cancelled. Any number of dispatchers (server
    processes) may share a database: their leases (``OutboxLeases``) keep an event
    with one of them at a time. Owns one HTTP client
    and one TaskGroup of deliveries, both closed when ``run()`` ends."""

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        settings: Settings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        rng: Callable[[], float] = random.random,
        outbound: OutboundPolicy | None = None,
    ) -> None:
        self._settings = settings
        # Receivers are users' URLs: the operator's outbound-URL policy (``outbound``
        # replaces it in tests) checks each delivery's URL and the address it connects
        # to (``transport`` replaces the connection: tests only).
        self._outbound = outbound or OutboundPolicy.from_settings(settings)
        self._transport = transport or self._outbound.http_transport()
        self._rng = rng
        self._timeout_s = settings.webhook_delivery_timeout_seconds
        self._leases = OutboxLeases(
            session_factory, timedelta(seconds=self._timeout_s + _LEASE_MARGIN_S)
        )
        self._poll_s = settings.webhook_poll_interval_seconds
        self._concurrency = settings.webhook_max_concurrent_deliveries
        # Each delivery is signed with its organization's current secret: read through
        # a cache, not once per request (a rotation elsewhere is seen within its TTL).
        self._secrets = SigningSecretCache(session_factory, settings)

    async def run(self) -> None:
        """Deliver until cancelled. Database and network trouble is logged and retried
        on the next poll; an unexpected error restarts the loop after a pause, as the
        server must keep delivering whatever one event did."""
        failures = 0
        while True:
            try:
                await self._serve()
            except Exception:
                failures += 1
                pause = min(_MAX_RESTART_DELAY_S, self._poll_s * 2**failures)
                logger.exception("webhook dispatcher failed; restarting in %.1f s", pause)
                await asyncio.sleep(pause)

    async def _serve(self) -> None:
        with subscribe() as wake:
            async with (
                httpx.AsyncClient(
                    transport=self._transport,
                    follow_redirects=False,
                    headers={"User-Agent": f"callwright-webhooks/{__version__}"},
                    timeout=self._timeout_s,
                ) as client,
                asyncio.TaskGroup() as deliveries,
            ):
                in_flight: set[int] = set()
                while True:
                    wake.clear()
                    free = self._concurrency - len(in_flight)
                    claims = await self._claim(free) if free > 0 else []
                    for claim in claims:
                        in_flight.add(claim.id)
                        task = deliveries.create_task(self._deliver(client, claim))
                        task.add_done_callback(
                            functools.partial(_finished, in_flight, claim.id, wake)
                        )
                    if claims and len(claims) == free:
                        continue  # every slot filled: more may be due once one frees
                    if await _woken(wake, self._poll_s):
                        await asyncio.sleep(_GATHER_S)  # let the rest of a burst arrive

    # -- claiming ----------------------------------------------------------------------

    async def _claim(self, limit: int) -> list[Claim]:
        """Lease up to ``limit`` due events; none while the database is unreachable
        (the next poll tries again)."""
        try:
            return await self._leases.claim(limit)
        except (SQLAlchemyError, OSError) as exc:
            logger.warning("webhook dispatcher cannot claim events: %s", exc)
            return []

    # -- delivering --------------------------------------------------------------------

    async def _deliver(self, client: httpx.AsyncClient, claim: Claim) -> None:
        try:
            try:
                secret = await self._secrets.get(claim.organization_id)
            except SecretDecryptionError as exc:
                await self._record(claim, None, f"cannot sign: {exc}", 0.0)
                return
            started = time.monotonic()
            status_code, error = await self._post(client, claim, secret)
            duration_ms = round((time.monotonic() - started) * 1000, 1)
            await self._record(claim, status_code, error, duration_ms)
        except asyncio.CancelledError:
            # Shutting down: hand the event back now rather than when the lease ends.
            await self._release(claim)
            raise
        except (SQLAlchemyError, OSError) as exc:
            # The lease expires and the event is tried again.
            logger.warning(
                "webhook %s (call %s): database error, will retry: %s",
                claim.event_id,
                claim.call_id,
                exc,
            )

    async def _post(
        self, client: httpx.AsyncClient, claim: Claim, secret: str
    ) -> tuple[int | None, str | None]:
        body = json.dumps(claim.payload, separators=(",", ":"), ensure_ascii=False).encode()
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            EVENT_ID_HEADER: claim.event_id,
            EVENT_TYPE_HEADER: claim.event_type,
            ATTEMPT_HEADER: str(claim.attempts + 1),
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(secret, timestamp, body),
        }
        status_code: int | None = None
        try:
            self._outbound.check_url(claim.url)
        except OutboundRefused as exc:
            return None, f"not delivered: {exc}"
        try:
            # The whole exchange is bounded: a receiver that trickles cannot hold a slot.
            async with (
                asyncio.timeout(self._timeout_s),
                client.stream("POST", claim.url, content=body, headers=headers) as response,
            ):
                status_code = response.status_code
                if response.is_success:
                    return status_code, None
                return status_code, f"HTTP {status_code}{await _error_body(response)}"
        except (TimeoutError, httpx.TimeoutException):
            answered = f" after HTTP {status_code}" if status_code is not None else ""
            return status_code, f"timed out{answered} after {self._timeout_s:g} s"
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            return status_code, f"could not deliver: {type(exc).__name__}: {exc}"

    async def _record(
        self, claim: Claim, status_code: int | None, error: str | None, duration_ms: float
    ) -> None:
        now = utcnow()
        attempts = claim.attempts + 1
        retry_at = None
        if error is None:
            status = DELIVERED
        elif attempts >= self._settings.webhook_max_attempts:
            status = FAILED
        else:
            status = PENDING
            delay = retry_delay(
                attempts,
                base_s=self._settings.webhook_retry_base_delay_seconds,
                max_s=self._settings.webhook_retry_max_delay_seconds,
                rng=self._rng,
            )
            retry_at = now + timedelta(seconds=delay)
        held = await self._leases.record(
            claim,
            Attempt(status_code, error, duration_ms),
            status=status,
            retry_at=retry_at,
            at=now,
        )
        _log_outcome(claim, attempts, status, error, held=held)
        outcome = {DELIVERED: "delivered", FAILED: "failed"}.get(status, "retry")
        metrics.webhook_delivery(outcome, duration_ms / 1000)  # type: ignore[arg-type]

    async def _release(self, claim: Claim) -> None:
        try:
            async with asyncio.timeout(_RELEASE_TIMEOUT_S):
                await self._leases.release(claim)
        except (SQLAlchemyError, OSError, TimeoutError) as exc:
            logger.warning("webhook %s: lease not released (%s); it expires", claim.event_id, exc)


async def _woken(wake: asyncio.Event, timeout_s: float) -> bool:
    """Wait for ``wake`` at most ``timeout_s``: whether it was set (not timed out)."""
    try:
        async with asyncio.timeout(timeout_s):
            await wake.wait()
    except TimeoutError:
        return False
    return True


def _finished(in_flight: set[int], event_row_id: int, wake: asyncio.Event, _task: object) -> None:
    in_flight.discard(event_row_id)
    wake.set()


async def _error_body(response: httpx.Response) -> str:
    """The start of an error answer, for the delivery log."""
    chunks = bytearray()
    async for chunk in response.aiter_bytes():
        chunks += chunk
        if len(chunks) >= _ERROR_BODY_BYTES:
            break
    text = bytes(chunks[:_ERROR_BODY_BYTES]).decode("utf-8", "replace").strip()
    return f": {text}" if text else ""


def _log_outcome(claim: Claim, attempt: int, status: str, error: str | None, *, held: bool) -> None:
    where = f"webhook {claim.event_id} ({claim.event_type}, call {claim.call_id}) to {claim.url}"
    if not held:
        logger.warning("%s: attempt %d recorded after its lease was lost", where, attempt)
    elif status == DELIVERED:
        logger.debug("%s: delivered on attempt %d", where, attempt)
    elif status == FAILED:
        logger.error("%s: gave up after %d attempts: %s", where, attempt, error)
    else:
        logger.warning("%s: attempt %d failed: %s", where, attempt, error)
