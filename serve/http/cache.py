"""A small read cache: Redis when configured, else this process's memory.

Values are JSON documents under namespaced keys. Invalidation bumps a namespace
generation, so one write makes every cached read of that namespace stale at
once without scanning keys. A Redis fault makes the cache a miss, never an
error.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

MAX_LOCAL_ENTRIES = 10_000


class ReadCache:
    def __init__(self, redis: Redis | None, *, ttl_s: float) -> None:
        self._redis = redis
        self._ttl_s = ttl_s
        self._local: dict[str, tuple[float, str]] = {}
        self._local_generations: dict[str, int] = {}

    async def get(self, namespace: str, key: str) -> Any | None:
        if self._ttl_s <= 0:
            return None
        full_key = await self._key(namespace, key)
        if full_key is None:
            return None
        if self._redis is None:
            entry = self._local.get(full_key)
            if entry is None or entry[0] < time.monotonic():
                return None
            return json.loads(entry[1])
        try:
            raw = await self._redis.get(full_key)
        except (RedisError, OSError, TimeoutError):
            logger.warning("cache read failed; serving from the database")
            return None
        return None if raw is None else json.loads(raw)

    async def put(self, namespace: str, key: str, value: Any) -> None:
        if self._ttl_s <= 0:
            return
        full_key = await self._key(namespace, key)
        if full_key is None:
            return
        document = json.dumps(value, separators=(",", ":"))
        if self._redis is None:
            if len(self._local) >= MAX_LOCAL_ENTRIES:
                self._local.clear()
            self._local[full_key] = (time.monotonic() + self._ttl_s, document)
            return
        try:
            await self._redis.set(full_key, document, px=int(self._ttl_s * 1000))
        except (RedisError, OSError, TimeoutError):
            logger.warning("cache write failed; continuing without it")

    async def invalidate(self, namespace: str) -> None:
        """Make every cached entry of `namespace` stale, in every replica."""
        if self._redis is None:
            self._local_generations[namespace] = (
                self._local_generations.get(namespace, 0) + 1
            )
            return
        try:
            await self._redis.incr(f"marquee:cache:{namespace}:generation")
        except (RedisError, OSError, TimeoutError):
            # TODO: a write during a Redis outage leaves other replicas' cached
            # reads stale until their TTL (catalog_cache_ttl_s) runs out.
            logger.warning("cache invalidation failed; entries expire by TTL")

    async def _key(self, namespace: str, key: str) -> str | None:
        if self._redis is None:
            generation = self._local_generations.get(namespace, 0)
        else:
            try:
                raw = await self._redis.get(f"marquee:cache:{namespace}:generation")
            except (RedisError, OSError, TimeoutError):
                return None
            generation = int(raw or 0)
        return f"marquee:cache:{namespace}:{generation}:{key}"
