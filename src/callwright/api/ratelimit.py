"""Request budgets per API key and per IP, enforced with GCRA.

GCRA (the generic cell rate algorithm) is a leaky bucket that stores one number per
bucket: the theoretical arrival time (TAT), the instant at which the bucket would be
empty again. Each request pushes the TAT one emission interval ``T = 60 / per_minute``
further; a request is admitted while the TAT stays within ``per_minute * T`` (one
minute) of now. A fresh bucket therefore admits ``per_minute`` requests at once, then
one every ``T``. Both limiters compute in whole microseconds with the same integer
arithmetic, so they agree exactly.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

__all__ = [
    "MemoryRateLimiter",
    "RateDecision",
    "RateLimiter",
    "RedisRateLimiter",
    "create_rate_limiter",
]

logger = logging.getLogger(__name__)

_MICROS_PER_MINUTE = 60_000_000
_WARNING_INTERVAL_SECONDS = 30.0
# After a failure, skip Redis briefly so a black-holed server costs one timeout per
# second rather than one per request.
_OUTAGE_COOLDOWN_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class RateDecision:
    """Outcome of one hit; ``retry_after_seconds`` is 0 when allowed, else >= 1."""

    allowed: bool
    retry_after_seconds: int


_ALLOW = RateDecision(allowed=True, retry_after_seconds=0)


def _deny(wait_us: int) -> RateDecision:
    return RateDecision(allowed=False, retry_after_seconds=max(1, -(-wait_us // 1_000_000)))


def _interval_us(per_minute: int) -> int:
    if per_minute < 1:
        raise ValueError(f"per_minute must be at least 1, got {per_minute}")
    # Flooring keeps the arithmetic exact; the burst tolerance below uses the same
    # interval, so a fresh bucket admits exactly per_minute requests.
    return max(1, _MICROS_PER_MINUTE // per_minute)


class RateLimiter(Protocol):
    """Admits or refuses one request against a named budget of ``per_minute``."""

    async def hit(self, bucket: str, per_minute: int) -> RateDecision: ...

    async def aclose(self) -> None: ...


class MemoryRateLimiter:
    """In-process GCRA limiter for a single server node.

    Only the TAT of each bucket is kept. A bucket whose TAT has passed is the same as
    an absent one, so when the table doubles past its last live size (and at least
    ``purge_threshold``) such entries are dropped; the cost is amortised O(1) per hit
    and the table never holds more than ``max(purge_threshold, 2 * live buckets)``,
    where a bucket is live for at most a minute after its last admitted hit.
    """

    def __init__(
        self, clock: Callable[[], float] = time.monotonic, *, purge_threshold: int = 10_000
    ) -> None:
        self._clock = clock
        self._purge_threshold = purge_threshold
        self._next_purge_at = purge_threshold
        self._tat_us: dict[str, int] = {}

    def __len__(self) -> int:
        """Number of buckets currently tracked (expired ones may linger until a purge)."""
        return len(self._tat_us)

    async def hit(self, bucket: str, per_minute: int) -> RateDecision:
        # No await below: the read-modify-write is atomic on the event loop.
        interval = _interval_us(per_minute)
        now = round(self._clock() * 1_000_000)
        tat = max(self._tat_us.get(bucket, now), now)
        new_tat = tat + interval
        wait = new_tat - interval * per_minute - now
        if wait > 0:
            return _deny(wait)
        self._tat_us[bucket] = new_tat
        if len(self._tat_us) >= self._next_purge_at:
            self._purge(now)
        return _ALLOW

    def _purge(self, now_us: int) -> None:
        self._tat_us = {key: tat for key, tat in self._tat_us.items() if tat > now_us}
        self._next_purge_at = max(self._purge_threshold, 2 * len(self._tat_us))

    async def aclose(self) -> None:
        self._tat_us.clear()


# KEYS[1] = bucket key, ARGV[1] = emission interval in microseconds, ARGV[2] = per_minute.
# Returns {1, 0} when allowed, {0, wait_in_microseconds} when denied.
_GCRA_LUA = """
local interval = tonumber(ARGV[1])
local burst = interval * tonumber(ARGV[2])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
local wait = new_tat - burst - now
if wait > 0 then return {0, wait} end
redis.call('SET', KEYS[1], string.format('%.0f', new_tat),
           'PX', math.ceil((new_tat - now) / 1000))
return {1, 0}
"""


class RedisRateLimiter:
    """GCRA limiter shared by every server node through Redis.

    The whole read-modify-write runs in one Lua script on the Redis clock, so nodes
    with skewed clocks still share one budget; each key expires when its bucket would
    be empty. If Redis is unreachable or errors, requests are *allowed* (fail open)
    and a warning is logged at most every 30 s: rate limiting protects the API, and
    an outage of the limiter must not become an outage of the API. After a failure
    Redis is skipped for a second, so a hung server costs one ``timeout_seconds``
    per second rather than one per request. Up to ``max_connections`` scripts run at
    once; further hits wait up to ``timeout_seconds`` for a connection.

    ``clock`` only paces that back-off and the warnings; budgets use Redis time.
    """

    def __init__(
        self,
        url: str,
        *,
        timeout_seconds: float = 0.5,
        max_connections: int = 50,
        clock: Callable[[], float] = time.monotonic,
        namespace: str = "callwright",
    ) -> None:
        # A blocking pool queues a burst for a free connection; the default pool
        # raises once it is exhausted, which would fail open exactly under attack.
        pool = BlockingConnectionPool.from_url(
            url,
            max_connections=max_connections,
            timeout=timeout_seconds,
            socket_timeout=timeout_seconds,
            socket_connect_timeout=timeout_seconds,
            # Retry a dropped connection once (a pooled socket Redis closed on restart)
            # but never a timeout, which would double the worst-case latency.
            retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
        )
        self._redis: Redis = Redis.from_pool(pool)
        # Several deployments (or test runs) can share one Redis under their own names.
        self._key_prefix = f"{namespace}:rl:"
        self._script = self._redis.register_script(_GCRA_LUA)
        self._clock = clock
        self._skip_until = 0.0
        self._last_warning_at: float | None = None

    async def hit(self, bucket: str, per_minute: int) -> RateDecision:
        interval = _interval_us(per_minute)
        if self._clock() < self._skip_until:
            return _ALLOW
        try:
            allowed, wait = await self._script(
                keys=[self._key_prefix + bucket], args=[interval, per_minute]
            )
        except (RedisError, OSError) as exc:
            self._fail_open(bucket, exc)
            return _ALLOW
        return _ALLOW if allowed else _deny(int(wait))

    def _fail_open(self, bucket: str, exc: Exception) -> None:
        now = self._clock()
        self._skip_until = now + _OUTAGE_COOLDOWN_SECONDS
        last = self._last_warning_at
        if last is None or now - last >= _WARNING_INTERVAL_SECONDS:
            self._last_warning_at = now
            logger.warning(
                "rate limiter unavailable, allowing requests (bucket %s): %s: %s",
                bucket,
                type(exc).__name__,
                exc,
            )

    async def aclose(self) -> None:
        await self._redis.aclose()


def create_rate_limiter(redis_url: str | None, namespace: str = "callwright") -> RateLimiter:
    """Redis-backed limiter when a URL is configured, else an in-process one."""
    if redis_url:
        return RedisRateLimiter(redis_url, namespace=namespace)
    return MemoryRateLimiter()
