"""Finding a showtime's actor, activating it on first use, and retrying safely.

Callers (Serve replicas, scripts, tests) keep one `ShowtimeDirectory`. It caches
actor handles, creates an actor when none exists (concurrent first calls all get
the same one, since Ray's named-actor registration picks a single winner), and
resubmits a batch when the actor died, restarted or was passivating. Resubmitting
is safe because every command carries a request id the actor remembers.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

import ray
from ray.exceptions import ActorDiedError, ActorUnavailableError, RayActorError

from actors.engine import Outcome
from actors.errors import MarqueeError, ShowtimeUnavailable
from actors.messages import Command, SeatMapView
from actors.showtime_actor import ActorOptions, RemoteShowtimeActor, actor_name

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 10
FIRST_BACKOFF_S = 0.05
MAX_BACKOFF_S = 1.0
# For callers without a request timeout of their own (scripts, tests).
ANSWER_WITHIN_S = 30.0


class ShowtimeDirectory:
    """Handles to showtime actors by showtime id, for one caller process.

    Every submit or seat-map read is answered within `answer_within_s`, retries
    included: a caller serving HTTP sets it below its request timeout, so that
    a showtime still starting up (a burst of cold ones queues behind Ray's
    worker start-up) is answered `showtime_unavailable` with a Retry-After
    instead of the proxy's bare timeout.
    """

    def __init__(
        self,
        options: ActorOptions,
        *,
        namespace: str,
        answer_within_s: float = ANSWER_WITHIN_S,
    ) -> None:
        self._options = options
        self._namespace = namespace
        self._answer_within_s = answer_within_s
        self._handles: dict[str, Any] = {}
        self._lock = threading.Lock()

    def handle(self, showtime_id: str) -> Any:
        """The showtime's actor handle, activating the actor if needed (blocking)."""
        with self._lock:
            cached = self._handles.get(showtime_id)
            if cached is not None:
                return cached
        handle = RemoteShowtimeActor.options(
            name=actor_name(showtime_id),
            namespace=self._namespace,
            lifetime="detached",
            get_if_exists=True,
        ).remote(showtime_id, self._options)
        with self._lock:
            return self._handles.setdefault(showtime_id, handle)

    def forget(self, showtime_id: str, handle: Any) -> None:
        with self._lock:
            if self._handles.get(showtime_id) is handle:
                del self._handles[showtime_id]

    async def submit(
        self, showtime_id: str, commands: Sequence[Command]
    ) -> list[Outcome]:
        """Submit `commands` to the showtime; one outcome each.

        Commands answered `showtime_unavailable` (the actor was moving) are sent
        again, as is the whole batch when the actor process died; after
        `MAX_ATTEMPTS` the remaining ones are answered `showtime_unavailable`.
        """
        outcomes: list[Outcome | None] = [None] * len(commands)
        remaining = list(range(len(commands)))
        deadline = time.monotonic() + self._answer_within_s
        for attempt in range(MAX_ATTEMPTS):
            handle = await self._handle_async(showtime_id)
            batch = [commands[index] for index in remaining]
            try:
                answers: list[Outcome] = await asyncio.wait_for(
                    handle.submit.remote(batch), timeout=_left(deadline)
                )
            except (RayActorError, TimeoutError) as exc:
                self._after_failure(showtime_id, handle, exc)
            else:
                retry = []
                for index, answer in zip(remaining, answers, strict=True):
                    if isinstance(answer, ShowtimeUnavailable):
                        retry.append(index)
                    outcomes[index] = answer
                remaining = retry
                if not remaining:
                    break
            if not await _backoff(attempt, deadline):
                break

        unavailable = ShowtimeUnavailable(
            "The showtime did not answer; retry the same request",
            showtime_id=showtime_id,
        )
        for index in remaining:
            outcomes[index] = unavailable
        return [unavailable if outcome is None else outcome for outcome in outcomes]

    async def seat_map(self, showtime_id: str) -> SeatMapView | MarqueeError:
        deadline = time.monotonic() + self._answer_within_s
        for attempt in range(MAX_ATTEMPTS):
            handle = await self._handle_async(showtime_id)
            try:
                view: SeatMapView | MarqueeError = await asyncio.wait_for(
                    handle.seat_map.remote(), timeout=_left(deadline)
                )
                return view
            except (RayActorError, TimeoutError) as exc:
                self._after_failure(showtime_id, handle, exc)
            if not await _backoff(attempt, deadline):
                break
        return ShowtimeUnavailable(
            "The showtime did not answer", showtime_id=showtime_id
        )

    def submit_blocking(
        self, showtime_id: str, commands: Sequence[Command]
    ) -> list[Outcome]:
        """`submit` for callers without an event loop (scripts, tests)."""
        return asyncio.run(self.submit(showtime_id, commands))

    async def _handle_async(self, showtime_id: str) -> Any:
        with self._lock:
            cached = self._handles.get(showtime_id)
        if cached is not None:
            return cached
        # Registering a named actor blocks; keep it off the caller's event loop.
        return await asyncio.to_thread(self.handle, showtime_id)

    def _after_failure(self, showtime_id: str, handle: Any, exc: Exception) -> None:
        # A dead actor's handle is useless (passivated, or out of restarts); a
        # temporarily unavailable one will come back under the same handle.
        if isinstance(exc, ActorDiedError) or not isinstance(
            exc, ActorUnavailableError
        ):
            self.forget(showtime_id, handle)
        logger.info(
            "showtime %s: actor call failed (%s)",
            showtime_id,
            type(exc).__name__,
            extra={"showtime_id": showtime_id},
        )


def _left(deadline: float) -> float:
    return max(0.0, deadline - time.monotonic())


async def _backoff(attempt: int, deadline: float) -> bool:
    """Wait before another attempt; False when none fits before `deadline`."""
    backoff_s = min(MAX_BACKOFF_S, FIRST_BACKOFF_S * 2.0**attempt)
    if time.monotonic() + backoff_s >= deadline:
        return False
    await asyncio.sleep(backoff_s)
    return True


def wait_for_actor_exit(
    showtime_id: str, namespace: str, timeout_s: float = 10.0
) -> bool:
    """True once no actor is registered under the showtime's name (tests, tools)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            ray.get_actor(actor_name(showtime_id), namespace=namespace)
        except ValueError:
            return True
        time.sleep(0.05)
    return False
