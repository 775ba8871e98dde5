"""Rate limiting: GCRA in memory on a virtual clock, and in Redis on the real server."""

from __future__ import annotations

import asyncio
import logging
import os
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError

from callwright.api.ratelimit import (
    MemoryRateLimiter,
    RateDecision,
    RateLimiter,
    RedisRateLimiter,
    create_rate_limiter,
)
from tests.support.optional import unavailable

REDIS_URL = os.environ.get("CALLWRIGHT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
UNREACHABLE_REDIS_URL = "redis://127.0.0.1:1/0"
KEY_PREFIX = "callwright:rl:"


class FakeClock:
    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


async def burst(limiter: RateLimiter, bucket: str, per_minute: int, count: int) -> list[bool]:
    return [(await limiter.hit(bucket, per_minute)).allowed for _ in range(count)]


# --- memory ------------------------------------------------------------------------


async def test_fresh_bucket_admits_exactly_per_minute_then_denies() -> None:
    limiter = MemoryRateLimiter(FakeClock())
    assert await burst(limiter, "key:a", 5, 5) == [True] * 5
    # 5 per minute: one every 12 s.
    assert await limiter.hit("key:a", 5) == RateDecision(allowed=False, retry_after_seconds=12)


async def test_denied_hits_do_not_consume_budget() -> None:
    clock = FakeClock()
    limiter = MemoryRateLimiter(clock)
    await burst(limiter, "key:a", 5, 5)
    assert await burst(limiter, "key:a", 5, 10) == [False] * 10
    clock.advance(12)
    assert (await limiter.hit("key:a", 5)).allowed


async def test_recovers_one_request_per_emission_interval() -> None:
    clock = FakeClock()
    limiter = MemoryRateLimiter(clock)
    await burst(limiter, "key:a", 5, 5)
    clock.advance(11.5)
    assert await limiter.hit("key:a", 5) == RateDecision(allowed=False, retry_after_seconds=1)
    clock.advance(0.5)
    assert await limiter.hit("key:a", 5) == RateDecision(allowed=True, retry_after_seconds=0)
    assert await limiter.hit("key:a", 5) == RateDecision(allowed=False, retry_after_seconds=12)


async def test_retry_after_rounds_up_to_whole_seconds() -> None:
    limiter = MemoryRateLimiter(FakeClock())
    # 7 per minute: one every 8.57 s, so the burst still holds exactly 7.
    assert await burst(limiter, "key:a", 7, 8) == [True] * 7 + [False]
    assert (await limiter.hit("key:a", 7)).retry_after_seconds == 9


async def test_full_minute_refills_the_whole_burst() -> None:
    clock = FakeClock()
    limiter = MemoryRateLimiter(clock)
    await burst(limiter, "key:a", 600, 600)
    assert not (await limiter.hit("key:a", 600)).allowed
    clock.advance(60)
    assert await burst(limiter, "key:a", 600, 601) == [True] * 600 + [False]


async def test_buckets_are_independent() -> None:
    limiter = MemoryRateLimiter(FakeClock())
    await burst(limiter, "ip:10.0.0.1", 2, 2)
    assert not (await limiter.hit("ip:10.0.0.1", 2)).allowed
    assert (await limiter.hit("ip:10.0.0.2", 2)).allowed
    assert (await limiter.hit("key:10.0.0.1", 2)).allowed


async def test_rejects_a_non_positive_budget() -> None:
    limiter = MemoryRateLimiter(FakeClock())
    with pytest.raises(ValueError, match="per_minute"):
        await limiter.hit("key:a", 0)


async def test_purge_keeps_memory_bounded() -> None:
    clock = FakeClock()
    limiter = MemoryRateLimiter(clock, purge_threshold=100)
    largest = 0
    for i in range(5_000):
        await limiter.hit(f"ip:{i}", 60)  # each bucket is empty again 1 s later
        clock.advance(0.1)
        largest = max(largest, len(limiter))
    assert largest <= 100


async def test_purge_keeps_live_buckets_limited() -> None:
    clock = FakeClock()
    limiter = MemoryRateLimiter(clock, purge_threshold=10)
    assert (await limiter.hit("key:hot", 1)).allowed
    for i in range(1_000):
        await limiter.hit(f"ip:{i}", 60)
        clock.advance(0.01)
    assert len(limiter) < 1_000  # purges happened...
    decision = await limiter.hit("key:hot", 1)  # ...but the live bucket survived them
    assert decision == RateDecision(allowed=False, retry_after_seconds=50)


async def test_factory_picks_the_backend() -> None:
    memory = create_rate_limiter(None)
    redis_backed = create_rate_limiter(UNREACHABLE_REDIS_URL)
    try:
        assert isinstance(memory, MemoryRateLimiter)
        assert isinstance(redis_backed, RedisRateLimiter)
    finally:
        await memory.aclose()
        await redis_backed.aclose()


# --- redis -------------------------------------------------------------------------


@pytest.fixture
async def redis_client() -> AsyncIterator[Redis]:
    client = Redis.from_url(REDIS_URL, socket_timeout=1, socket_connect_timeout=1)
    try:
        await client.ping()
    except RedisError as exc:
        await client.aclose()
        unavailable(f"Redis at {REDIS_URL} is not reachable: {exc}")
    yield client
    await client.aclose()


@pytest.fixture
async def bucket(redis_client: Redis) -> AsyncIterator[str]:
    name = f"test:{uuid.uuid4().hex}"
    yield name
    keys = [key async for key in redis_client.scan_iter(match=f"{KEY_PREFIX}{name}*")]
    if keys:
        await redis_client.delete(*keys)


@pytest.fixture
async def limiter(redis_client: Redis) -> AsyncIterator[RedisRateLimiter]:
    instance = RedisRateLimiter(REDIS_URL)
    yield instance
    await instance.aclose()


@pytest.mark.redis
async def test_redis_admits_exactly_per_minute_then_denies(
    limiter: RedisRateLimiter, bucket: str
) -> None:
    assert await burst(limiter, bucket, 5, 5) == [True] * 5
    decision = await limiter.hit(bucket, 5)
    assert not decision.allowed
    assert 11 <= decision.retry_after_seconds <= 12


@pytest.mark.redis
async def test_redis_key_expires_when_the_bucket_is_empty(
    limiter: RedisRateLimiter, bucket: str, redis_client: Redis
) -> None:
    await limiter.hit(bucket, 5)
    assert 11_000 < await redis_client.pttl(KEY_PREFIX + bucket) <= 12_000
    await limiter.hit(bucket, 5)
    assert 23_000 < await redis_client.pttl(KEY_PREFIX + bucket) <= 24_000


@pytest.mark.redis
async def test_redis_recovers_after_the_emission_interval(
    limiter: RedisRateLimiter, bucket: str
) -> None:
    # 600 per minute: one every 100 ms. Hitting takes real time, so allow a little slack.
    admitted = 0
    while (await limiter.hit(bucket, 600)).allowed:
        admitted += 1
        assert admitted <= 620
    assert admitted >= 600
    assert (await limiter.hit(bucket, 600)).retry_after_seconds == 1
    await asyncio.sleep(0.15)  # the limiter runs on Redis time, so real time must pass
    assert (await limiter.hit(bucket, 600)).allowed


@pytest.mark.redis
async def test_redis_nodes_share_one_budget(limiter: RedisRateLimiter, bucket: str) -> None:
    other_node = RedisRateLimiter(REDIS_URL)
    try:
        decisions = [(await node.hit(bucket, 4)).allowed for node in (limiter, other_node) * 3]
    finally:
        await other_node.aclose()
    assert decisions == [True] * 4 + [False] * 2


@pytest.mark.redis
async def test_redis_buckets_are_independent(limiter: RedisRateLimiter, bucket: str) -> None:
    await burst(limiter, f"{bucket}:a", 1, 1)
    assert not (await limiter.hit(f"{bucket}:a", 1)).allowed
    assert (await limiter.hit(f"{bucket}:b", 1)).allowed


@pytest.mark.redis
async def test_redis_error_fails_open(
    limiter: RedisRateLimiter, bucket: str, redis_client: Redis, caplog: pytest.LogCaptureFixture
) -> None:
    await redis_client.hset(KEY_PREFIX + bucket, "field", "value")  # GET now errors
    with caplog.at_level(logging.WARNING, logger="callwright.api.ratelimit"):
        assert await burst(limiter, bucket, 1, 3) == [True] * 3
    assert len(caplog.records) == 1
    assert "WRONGTYPE" in caplog.records[0].getMessage()


async def test_unreachable_redis_fails_open_quickly(caplog: pytest.LogCaptureFixture) -> None:
    limiter = RedisRateLimiter(UNREACHABLE_REDIS_URL)
    try:
        started = time.perf_counter()
        with caplog.at_level(logging.WARNING, logger="callwright.api.ratelimit"):
            decisions = await burst(limiter, "key:a", 1, 5)
        elapsed = time.perf_counter() - started
    finally:
        await limiter.aclose()
    assert decisions == [True] * 5
    assert elapsed < 1.0
    assert len(caplog.records) == 1
    assert "rate limiter unavailable" in caplog.records[0].getMessage()


@pytest.mark.redis
async def test_redis_heals_a_dropped_connection_without_failing_open(
    bucket: str, redis_client: Redis, caplog: pytest.LogCaptureFixture
) -> None:
    # What a Redis restart does to pooled connections.
    client_name = f"rl-{uuid.uuid4().hex}"
    limiter = RedisRateLimiter(f"{REDIS_URL}?client_name={client_name}")
    try:
        assert (await limiter.hit(bucket, 2)).allowed
        killed = 0
        for client in await redis_client.client_list():
            if client["name"] == client_name:
                killed += await redis_client.client_kill_filter(_id=client["id"])
        assert killed == 1
        with caplog.at_level(logging.WARNING, logger="callwright.api.ratelimit"):
            assert await burst(limiter, bucket, 2, 2) == [True, False]
    finally:
        await limiter.aclose()
    assert caplog.records == []


@dataclass
class HungRedis:
    """A server that accepts connections and never answers; counts the connections."""

    url: str = ""
    connections: int = 0


@pytest.fixture
async def hung_redis() -> AsyncIterator[HungRedis]:
    hung = HungRedis()

    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        hung.connections += 1
        await reader.read()  # until the client gives up and disconnects
        writer.close()

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    hung.url = f"redis://127.0.0.1:{server.sockets[0].getsockname()[1]}/0"
    yield hung
    server.close()
    await server.wait_closed()


async def test_hung_redis_costs_one_timeout_per_cooldown(
    hung_redis: HungRedis, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock()
    limiter = RedisRateLimiter(hung_redis.url, timeout_seconds=0.2, clock=clock)

    async def hit() -> None:
        assert (await limiter.hit("key:a", 1)).allowed  # fails open

    # A timed-out connection is dropped (redis-py cannot reuse it), so each attempt on
    # Redis is one connection to the hung server.
    try:
        with caplog.at_level(logging.WARNING, logger="callwright.api.ratelimit"):
            await hit()
            assert hung_redis.connections == 1  # timed out once, not retried
            for _ in range(10):
                await hit()
            assert hung_redis.connections == 1  # Redis skipped during the cooldown
            clock.advance(1.5)
            await hit()
            assert hung_redis.connections == 2  # tried Redis again
            assert len(caplog.records) == 1  # but did not warn again so soon
            clock.advance(30)
            await hit()
            assert hung_redis.connections == 3
    finally:
        await limiter.aclose()
    assert len(caplog.records) == 2
    assert "TimeoutError" in caplog.records[1].getMessage()


@pytest.mark.redis
async def test_redis_concurrent_burst_is_counted_exactly(
    redis_client: Redis, bucket: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Far more hits in flight than pooled connections: none may slip through. The
    # timeout is long so that a loaded machine cannot turn this into a fail-open test.
    limiter = RedisRateLimiter(REDIS_URL, timeout_seconds=10)
    try:
        with caplog.at_level(logging.WARNING, logger="callwright.api.ratelimit"):
            decisions = await asyncio.gather(*(limiter.hit(bucket, 300) for _ in range(500)))
    finally:
        await limiter.aclose()
    assert sum(decision.allowed for decision in decisions) == 300
    assert caplog.records == []
