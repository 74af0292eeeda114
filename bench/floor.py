"""What the shape costs before Marquee does any work: floors for `bench.rush`.

Two measurements on the benchmark's own Ray cluster, with no seat map, no
database and no auth:

- `floor_application`: an HTTP route on Serve (HAProxy ingress, the booking
  deployment's replicas and batching settings) that awaits one batched call
  to an actor that does nothing. Its requests/s beside healthz's bound what
  the churn can reach over HTTP.
- `spread_calls`: calls/s from this process to many actors that do nothing,
  with a fixed number in flight, as the fifty-showtime figure makes them (one
  operation per call). That bounds what fifty showtimes can reach.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Sequence
from typing import Any

import ray
from fastapi import FastAPI
from ray import serve
from ray.serve.deployment import Application

from bench.loadgen import Recorder, summarise
from serve.booking.app import (
    BATCH_WAIT_TIMEOUT_S,
    MAX_BATCH_SIZE,
    MAX_CONCURRENT_BATCHES,
    MAX_ONGOING_REQUESTS,
)

FLOOR_PREFIX = "/bench-floor"
FLOOR_PATH = f"{FLOOR_PREFIX}/noop"


@ray.remote(num_cpus=0, max_concurrency=2000)
class NoOpActor:
    """Answers a batch with itself, as a showtime actor answers one."""

    async def submit(self, items: Sequence[Any]) -> list[Any]:
        return list(items)


@serve.deployment(name="floor")
@serve.ingress()
class FloorDeployment:
    def __init__(self, actor: Any) -> None:
        self._actor = actor

    @serve.batch(
        max_batch_size=MAX_BATCH_SIZE,
        batch_wait_timeout_s=BATCH_WAIT_TIMEOUT_S,
        max_concurrent_batches=MAX_CONCURRENT_BATCHES,
    )
    async def _submit_batch(self, items: Sequence[int]) -> list[int]:
        answers: list[int] = await self._actor.submit.remote(list(items))
        return answers

    def __serve_build_asgi_app__(self) -> FastAPI:
        app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

        @app.get("/noop")
        async def noop() -> dict[str, int]:
            return {"answer": await self._submit_batch(1)}

        return app


def floor_application(replicas: int) -> Application:
    """The floor route on `replicas` replicas, each asking for no CPU."""
    bound: Application = FloorDeployment.options(
        num_replicas=replicas,
        max_ongoing_requests=MAX_ONGOING_REQUESTS,
        ray_actor_options={"num_cpus": 0},
        logging_config={"enable_access_log": False},
    ).bind(NoOpActor.remote())
    return bound


def spread_calls(
    actors: int, in_flight: int, warmup_s: float, duration_s: float
) -> dict[str, Any]:
    """Calls to `actors` no-op actors, `in_flight` at a time, each to an actor
    picked at random, summarised as `bench.loadgen` summarises requests (kind
    "call"); the actors are gone afterwards."""
    handles = [NoOpActor.remote() for _ in range(actors)]
    try:
        ray.get([handle.submit.remote([0]) for handle in handles])
        return asyncio.run(_keep_calling(handles, in_flight, warmup_s, duration_s))
    finally:
        for handle in handles:
            ray.kill(handle)


async def _keep_calling(
    handles: list[Any], in_flight: int, warmup_s: float, duration_s: float
) -> dict[str, Any]:
    started = time.perf_counter()
    recorder = Recorder(
        started=started,
        measure_from=started + warmup_s,
        measure_until=started + warmup_s + duration_s,
    )

    async def client() -> None:
        while (sent := time.perf_counter()) < recorder.measure_until:
            await random.choice(handles).submit.remote([0])
            if recorder.in_window(sent):
                recorder.statuses["call"][200] += 1
                recorder.latencies_ms["call"].append(
                    (time.perf_counter() - sent) * 1000
                )

    await asyncio.gather(*(client() for _ in range(in_flight)))
    return summarise(recorder, duration_s)
