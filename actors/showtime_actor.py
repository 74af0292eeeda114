"""The Ray actor that owns one showtime: a named, detached engine per process.

The actor adds to `ShowtimeEngine` what only a process can: a timer that expires
holds with no request needed, passivation when idle, and restart by Ray after a
crash (its constructor restores from the database before it serves).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import ray
from ray.actor import exit_actor

from actors.engine import EngineConfig, Outcome, ShowtimeEngine
from actors.errors import MarqueeError, ShowtimeNotFound, ShowtimeUnavailable
from actors.messages import Command, SeatMapView
from config.logging import configure_logging
from config.runtime import tune_garbage_collector
from config.settings import Settings
from persistence.database import Database

logger = logging.getLogger(__name__)

ACTOR_NAME_PREFIX = "showtime:"
# TODO: one process per live showtime costs about 79 MiB (USS) and 1 s to
# activate, and idles at ~0.8 % of a core (`bench.actor_footprint`), mostly
# Ray's core worker waking the main thread every 10 ms to check for signals.
# Under spread load each call carries about one operation, and Ray alone,
# calling fifty actors that do nothing, carries 0.57-0.90x of one hot
# showtime's holds/s (`bench.rush`'s bound rows): fifty busy showtimes reach a
# ninth to a fifth of it. Commits are not the limit (Postgres does 20k small
# commits/s here); fewer, fuller calls are, and the fixed shape (an actor per
# showtime) leaves only more cores.
# One async actor may have this many calls in progress; each is cheap while it
# waits for its group commit, so the bound is about memory, not CPU.
MAX_CONCURRENT_CALLS = 2000
MISSING_SHOWTIME_LINGER_S = 5.0


def actor_name(showtime_id: str) -> str:
    return f"{ACTOR_NAME_PREFIX}{showtime_id}"


@dataclass(frozen=True, slots=True)
class ActorOptions:
    """What every showtime actor is built with; travels to the actor's process."""

    database_url: str
    database_pool_size: int
    engine: EngineConfig
    idle_s: float
    sweep_interval_s: float
    log_level: str = "INFO"

    @classmethod
    def from_settings(cls, settings: Settings) -> ActorOptions:
        return cls(
            database_url=settings.database_url,
            database_pool_size=settings.database_pool_size,
            engine=EngineConfig(
                hold_ttl_s=settings.hold_ttl_s,
                max_seats_per_hold=settings.max_seats_per_hold,
                snapshot_interval_s=settings.snapshot_interval_s,
                snapshot_every_events=settings.snapshot_every_events,
                request_id_retention_s=settings.request_id_retention_s,
                payment_window_s=settings.payment_window_s,
            ),
            idle_s=settings.actor_idle_s,
            sweep_interval_s=settings.hold_sweep_interval_s,
            log_level=settings.log_level,
        )


@dataclass(frozen=True, slots=True)
class ActorStatus:
    showtime_id: str
    pid: int
    epoch: int
    version: int
    commits: int
    committed_events: int
    commit_seconds: float
    calls: int
    call_seconds: float
    holds: int
    bookings: int
    restored_in_s: float


class ShowtimeActor:
    """One showtime's owner.

    Concurrency invariant: every method runs on the actor's single event loop;
    the engine's own invariant (no `await` between deciding and applying) is what
    serialises holds, releases, confirms and cancels. Once `passivate` starts,
    new commands are refused with `showtime_unavailable` so that callers retry
    against the next instance instead of racing the exit.
    """

    def __init__(self, showtime_id: str, options: ActorOptions) -> None:
        configure_logging(options.log_level)
        tune_garbage_collector()
        started = time.perf_counter()
        self._showtime_id = showtime_id
        self._options = options
        self._database = Database(
            options.database_url,
            pool_size=options.database_pool_size,
            ping_after_idle_s=None,
        )
        self._engine = ShowtimeEngine(self._database, showtime_id, options.engine)
        self._missing: ShowtimeNotFound | None = None
        try:
            self._engine.activate()
        except ShowtimeNotFound as error:
            self._missing = error
        self._restored_in_s = time.perf_counter() - started
        self._ticker: asyncio.Task[None] | None = None
        self._closing = False
        # Batches received and the seconds from receipt to answer, in total.
        self._calls = 0
        self._call_seconds = 0.0
        # Start the timer from inside the actor's event loop. A restarted actor
        # may get no call for a while, and its holds must still expire.
        ray.get_runtime_context().current_actor.start.remote()

    async def start(self) -> None:
        if self._missing is not None:
            # Nothing to own: answer "not found" for a moment (callers racing
            # in would otherwise recreate this actor again and again), then
            # leave so that the name does not linger.
            await asyncio.sleep(MISSING_SHOWTIME_LINGER_S)
            self._closing = True
            exit_actor()
        self._ensure_ticker()

    def _ensure_ticker(self) -> None:
        if self._ticker is None or self._ticker.done():
            self._ticker = asyncio.get_running_loop().create_task(self._tick_forever())

    async def submit(self, commands: Sequence[Command]) -> list[Outcome]:
        """Apply a batch of commands in order; one outcome per command."""
        if self._missing is not None:
            return [self._missing] * len(commands)
        if self._closing:
            return [self._unavailable()] * len(commands)
        self._ensure_ticker()
        started = time.perf_counter()
        try:
            return await self._engine.submit(commands)
        finally:
            self._calls += 1
            self._call_seconds += time.perf_counter() - started

    async def seat_map(self) -> SeatMapView | MarqueeError:
        if self._missing is not None:
            return self._missing
        self._engine.last_activity = time.monotonic()
        return self._engine.view()

    async def status(self) -> ActorStatus:
        committed = self._engine.committed()
        return ActorStatus(
            showtime_id=self._showtime_id,
            pid=os.getpid(),
            epoch=self._engine.epoch,
            version=committed.version,
            commits=self._engine.commits,
            committed_events=self._engine.committed_events,
            commit_seconds=self._engine.commit_seconds,
            calls=self._calls,
            call_seconds=self._call_seconds,
            holds=len(committed.holds()),
            bookings=len(committed.bookings()),
            restored_in_s=self._restored_in_s,
        )

    async def committed_state(self) -> dict[str, Any]:
        """The committed seat map as snapshot data, for operators and checks."""
        return self._engine.committed().to_snapshot()

    async def passivate(self) -> None:
        """Commit what is pending, write a snapshot, and exit for good."""
        if self._missing is None:
            self._closing = True
            await self._engine.drain()
            await self._engine.snapshot()
            logger.info(
                "showtime %s passivated",
                self._showtime_id,
                extra={"showtime_id": self._showtime_id},
            )
        exit_actor()

    def _unavailable(self) -> ShowtimeUnavailable:
        return ShowtimeUnavailable(
            "The showtime is moving to a new process; retry the same request",
            showtime_id=self._showtime_id,
        )

    async def _tick_forever(self) -> None:
        interval_s = self._options.sweep_interval_s
        while not self._closing:
            await asyncio.sleep(interval_s)
            try:
                await self._tick()
            except Exception:
                # The timer must outlive any single failure, or holds would stop
                # expiring; the failure itself is logged in full.
                logger.exception(
                    "showtime %s: timer tick failed",
                    self._showtime_id,
                    extra={"showtime_id": self._showtime_id},
                )

    async def _tick(self) -> None:
        engine = self._engine
        engine.expire_holds()
        engine.forget_old_request_ids()
        idle_s = time.monotonic() - engine.last_activity
        if not engine.busy and idle_s >= self._options.engine.snapshot_interval_s:
            await engine.snapshot()
        if idle_s >= self._options.idle_s and not engine.busy and not self._closing:
            self._closing = True
            actor = ray.get_runtime_context().current_actor
            # max_task_retries=0: a retried exit would be replayed on a fresh
            # instance and hang later calls.
            actor.passivate.options(max_task_retries=0).remote()


RemoteShowtimeActor = ray.remote(
    num_cpus=0,
    max_restarts=-1,
    max_task_retries=0,
    max_concurrency=MAX_CONCURRENT_CALLS,
)(ShowtimeActor)
