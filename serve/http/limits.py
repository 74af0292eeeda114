"""Rate limits: fixed one-minute windows, shared in Redis, local without it.

Decided for Redis faults: when Redis does not answer within its timeout, each
replica falls back to its own in-process windows, so limits still hold per
replica (looser by the number of replicas) and no request fails because Redis
did. The fallback is logged, at most once a minute.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError

from actors.errors import RateLimited

logger = logging.getLogger(__name__)

WINDOW_S = 60
# Local windows kept at most; the oldest are dropped first.
MAX_LOCAL_KEYS = 100_000


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    retry_after_s: int


class LocalLimiter:
    """Per-process fixed windows."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._counts: dict[str, int] = {}
        self._window = 0

    def hit(self, key: str, limit: int) -> Verdict:
        now = self._clock()
        window = int(now // WINDOW_S)
        if window != self._window or len(self._counts) > MAX_LOCAL_KEYS:
            self._counts.clear()
            self._window = window
        count = self._counts.get(key, 0) + 1
        self._counts[key] = count
        retry_after_s = max(1, int((window + 1) * WINDOW_S - now))
        return Verdict(allowed=count <= limit, retry_after_s=retry_after_s)


class RateLimiter:
    """Counts hits per key and minute; raises `RateLimited` past the limit."""

    def __init__(
        self, redis: Redis | None, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._redis = redis
        self._clock = clock
        self._local = LocalLimiter(clock)
        self._last_fallback_log = 0.0

    async def check(self, scope: str, subject: str, limit: int) -> None:
        key = f"marquee:rl:{scope}:{subject}"
        verdict = await self._hit(key, limit)
        if not verdict.allowed:
            raise RateLimited(
                f"More than {limit} requests a minute; try again later",
                retry_after_s=verdict.retry_after_s,
                limit=limit,
            )

    async def _hit(self, key: str, limit: int) -> Verdict:
        if self._redis is None:
            return self._local.hit(key, limit)
        now = self._clock()
        window = int(now // WINDOW_S)
        windowed = f"{key}:{window}"
        try:
            async with self._redis.pipeline(transaction=False) as pipeline:
                pipeline.incr(windowed)
                pipeline.expire(windowed, WINDOW_S + 1)
                count, _ = await pipeline.execute()
        except (RedisError, OSError, TimeoutError):
            self._log_fallback()
            return self._local.hit(key, limit)
        retry_after_s = max(1, int((window + 1) * WINDOW_S - now))
        return Verdict(allowed=int(count) <= limit, retry_after_s=retry_after_s)

    def _log_fallback(self) -> None:
        now = time.monotonic()
        if now - self._last_fallback_log >= WINDOW_S:
            self._last_fallback_log = now
            logger.warning("Redis did not answer; rate limits are per replica for now")
