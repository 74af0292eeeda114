"""Rate limits and the read cache against a real Redis, and without one."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest
from redis.asyncio import Redis

from actors.errors import RateLimited
from serve.http.cache import ReadCache
from serve.http.limits import RateLimiter

T = TypeVar("T")

# Nothing listens there: connecting fails at once, as with Redis down.
DEAD_REDIS_URL = "redis://127.0.0.1:1/0"


def with_redis(url: str, work: Callable[[Redis], Awaitable[T]]) -> T:
    async def run() -> T:
        client = Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        try:
            return await work(client)
        finally:
            await client.aclose()

    return asyncio.run(run())


async def hits(
    limiter: RateLimiter, subject: str, limit: int, count: int
) -> list[bool]:
    allowed = []
    for _ in range(count):
        try:
            await limiter.check("test", subject, limit)
        except RateLimited:
            allowed.append(False)
        else:
            allowed.append(True)
    return allowed


def test_replicas_share_one_limit_through_redis(redis_url: str) -> None:
    subject = uuid.uuid4().hex

    async def two_replicas(client: Redis) -> list[bool]:
        first, second = RateLimiter(client), RateLimiter(client)
        return await hits(first, subject, 3, 2) + await hits(second, subject, 3, 2)

    assert with_redis(redis_url, two_replicas) == [True, True, True, False]


def test_a_refusal_says_when_to_retry(redis_url: str) -> None:
    subject = uuid.uuid4().hex

    async def over_the_limit(client: Redis) -> None:
        limiter = RateLimiter(client)
        await limiter.check("test", subject, 1)
        await limiter.check("test", subject, 1)

    with pytest.raises(RateLimited, match="More than 1 requests") as refused:
        with_redis(redis_url, over_the_limit)
    assert 1 <= refused.value.retry_after_s <= 60


def test_without_redis_each_replica_limits_on_its_own() -> None:
    subject = uuid.uuid4().hex

    async def two_replicas() -> list[bool]:
        first, second = RateLimiter(None), RateLimiter(None)
        return await hits(first, subject, 2, 3) + await hits(second, subject, 2, 1)

    assert asyncio.run(two_replicas()) == [True, True, False, True]


def test_with_redis_down_limits_fall_back_to_the_replica() -> None:
    subject = uuid.uuid4().hex

    async def down(client: Redis) -> list[bool]:
        return await hits(RateLimiter(client), subject, 2, 3)

    assert with_redis(DEAD_REDIS_URL, down) == [True, True, False]


def test_a_write_invalidates_cached_reads_in_every_replica(redis_url: str) -> None:
    namespace = f"movies-{uuid.uuid4().hex}"

    async def scenario(client: Redis) -> tuple[object, object, object]:
        first, second = ReadCache(client, ttl_s=30), ReadCache(client, ttl_s=30)
        await first.put(namespace, "list", {"total": 1})
        shared = await second.get(namespace, "list")
        await second.invalidate(namespace)
        after = await first.get(namespace, "list")
        return shared, after, await first.get(namespace, "missing")

    assert with_redis(redis_url, scenario) == ({"total": 1}, None, None)


def test_the_in_process_cache_invalidates_and_expires() -> None:
    async def scenario() -> list[object]:
        cache = ReadCache(None, ttl_s=0.05)
        await cache.put("movies", "one", {"id": 1})
        fresh = await cache.get("movies", "one")
        await asyncio.sleep(0.1)
        expired = await cache.get("movies", "one")
        await cache.put("movies", "one", {"id": 1})
        await cache.invalidate("movies")
        return [fresh, expired, await cache.get("movies", "one")]

    assert asyncio.run(scenario()) == [{"id": 1}, None, None]


@pytest.mark.parametrize("operation", ["get", "put", "invalidate"])
def test_with_redis_down_the_cache_misses_instead_of_failing(operation: str) -> None:
    async def down(client: Redis) -> object:
        cache = ReadCache(client, ttl_s=30)
        if operation == "get":
            return await cache.get("movies", "one")
        if operation == "put":
            return await cache.put("movies", "one", {"id": 1})
        return await cache.invalidate("movies")

    assert with_redis(DEAD_REDIS_URL, down) is None
