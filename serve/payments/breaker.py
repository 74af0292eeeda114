"""A circuit breaker for calls to a payment provider.

After `failure_threshold` consecutive failures the breaker opens and calls fail
at once with `DependencyUnavailable` (503 with Retry-After) for `open_s`; then
one trial call is let through, and its success closes the breaker again. So an
outage costs customers a quick, clear refusal instead of a pile of timeouts.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from actors.errors import DependencyUnavailable

logger = logging.getLogger(__name__)

T = TypeVar("T")


class CircuitBreaker:
    def __init__(
        self,
        name: str,
        *,
        failure_threshold: int = 5,
        open_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._name = name
        self._failure_threshold = failure_threshold
        self._open_s = open_s
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None

    @property
    def is_open(self) -> bool:
        return self._opened_at is not None and (
            self._clock() - self._opened_at < self._open_s
        )

    async def call(
        self, work: Callable[[], Awaitable[T]], *, failures: tuple[type[Exception], ...]
    ) -> T:
        """Run `work`; exceptions in `failures` count towards opening."""
        opened_at = self._opened_at
        if opened_at is not None and self._clock() - opened_at < self._open_s:
            retry_after_s = max(1, int(self._open_s - (self._clock() - opened_at)))
            raise DependencyUnavailable(
                f"{self._name} is unavailable; try again shortly",
                dependency=self._name,
                retry_after_s=retry_after_s,
            )
        try:
            result = await work()
        except failures:
            self._failures += 1
            if self._failures >= self._failure_threshold:
                if self._opened_at is None:
                    logger.warning("%s failing; circuit breaker open", self._name)
                self._opened_at = self._clock()
            raise
        if self._opened_at is not None:
            logger.info("%s answering again; circuit breaker closed", self._name)
        self._failures = 0
        self._opened_at = None
        return result
