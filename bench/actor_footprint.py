"""What a live showtime actor costs: memory, CPU, activation, restore, group
commit, and the CPU of one call when calls spread over many actors.

    python -m bench.actor_footprint [--actors 20] [--database-url URL]

Uses its own local Ray cluster and a fresh schema in the given database
(default: a `marquee_bench` database on the local Postgres, else a SQLite
file under var/bench).
Prints a table; checks nothing, since timings are not behaviour.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
import ray
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from actors.directory import ShowtimeDirectory, wait_for_actor_exit
from actors.engine import EngineConfig
from actors.messages import HoldResult, HoldSeats, ReleaseHold
from actors.showtime_actor import ActorOptions
from persistence.database import Database
from persistence.demo import seed_demo_data
from persistence.models import Base
from persistence.schema import migrate

# A database of its own, so that a benchmark never disturbs a test run.
SERVER_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/marquee_bench"
NAMESPACE = "marquee-bench"
IDLE_SAMPLE_S = 5.0
SPREAD_CALLS_S = 5.0


def pick_database(url: str | None) -> str:
    if url:
        return url
    try:
        engine = create_engine(
            DEFAULT_POSTGRES_URL, connect_args={"connect_timeout": 3}
        )
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
        return DEFAULT_POSTGRES_URL
    except OperationalError:
        path = Path("var/bench/footprint.db").resolve()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        return f"sqlite:///{path}"


def reset(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as connection:
        Base.metadata.drop_all(connection)
        connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
    engine.dispose()
    migrate(url)


def milliseconds(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def uss_mib(pid: int) -> tuple[float, float]:
    info = psutil.Process(pid).memory_full_info()
    return info.uss / 2**20, info.rss / 2**20


async def churn(
    directory: ShowtimeDirectory, showtime_id: str, customers: int, rounds: int
) -> tuple[int, float]:
    """Customers hold one seat and release it, all at once, `rounds` times."""

    async def one(customer: int, round_number: int) -> int:
        key = f"{customer}-{round_number}"
        (held,) = await directory.submit(
            showtime_id, [HoldSeats(f"h{key}", f"c{customer}", count=1)]
        )
        if not isinstance(held, HoldResult):
            return 0
        await directory.submit(
            showtime_id, [ReleaseHold(f"r{key}", f"c{customer}", held.hold_id)]
        )
        return 2

    started = time.perf_counter()
    operations = 0
    for round_number in range(rounds):
        done = await asyncio.gather(*(one(c, round_number) for c in range(customers)))
        operations += sum(done)
    return operations, time.perf_counter() - started


def cpu_seconds(processes: list[psutil.Process]) -> float:
    total = 0.0
    for process in processes:
        times = process.cpu_times()
        total += times.user + times.system
    return total


async def spread_calls(
    directory: ShowtimeDirectory,
    showtime_ids: list[str],
    processes: list[psutil.Process],
) -> tuple[int, float, float]:
    """Calls made, and CPU seconds spent by this process and by the actors."""
    handles = [directory.handle(showtime_id) for showtime_id in showtime_ids]
    me = psutil.Process()
    calls = 0
    deadline = time.perf_counter() + SPREAD_CALLS_S

    async def keep_calling(handle: Any) -> None:
        nonlocal calls
        while time.perf_counter() < deadline:
            await handle.status.remote()
            calls += 1

    driver_before, actors_before = cpu_seconds([me]), cpu_seconds(processes)
    await asyncio.gather(*(keep_calling(handle) for handle in handles))
    driver_s = cpu_seconds([me]) - driver_before
    return calls, driver_s, cpu_seconds(processes) - actors_before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--actors", type=int, default=20)
    parser.add_argument("--database-url")
    arguments = parser.parse_args()

    url = pick_database(arguments.database_url)
    reset(url)
    database = Database(url, pool_size=1)
    with database.sessions.begin() as session:
        showtime_ids = seed_demo_data(session, datetime.now(UTC))
    grand = [s for s in showtime_ids if s.startswith("demo-grand")]
    sample = showtime_ids[: arguments.actors]

    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    ray.init(
        num_cpus=2, include_dashboard=False, log_to_driver=False, namespace=NAMESPACE
    )
    options = ActorOptions(
        database_url=url,
        database_pool_size=1,
        engine=EngineConfig(snapshot_every_events=1000),
        idle_s=3600,
        sweep_interval_s=1.0,
        log_level="WARNING",
    )
    directory = ShowtimeDirectory(options, namespace=NAMESPACE)
    rows: list[tuple[str, str]] = [("database", url.split("@")[-1])]

    # Activation: first call to a showtime with no actor yet, one at a time.
    activation_s = []
    for showtime_id in sample:
        started = time.perf_counter()
        asyncio.run(directory.seat_map(showtime_id))
        activation_s.append(time.perf_counter() - started)
    statuses = ray.get([directory.handle(s).status.remote() for s in sample])
    memory = [uss_mib(status.pid) for status in statuses]
    median = statistics.median
    rows += [
        ("live actors", str(len(sample))),
        ("activation, first call (median)", milliseconds(median(activation_s))),
        ("activation, first call (max)", milliseconds(max(activation_s))),
        ("memory per actor, USS (median)", f"{median(m[0] for m in memory):.1f} MiB"),
        ("memory per actor, RSS (median)", f"{median(m[1] for m in memory):.1f} MiB"),
        (
            "restore inside __init__ (median)",
            milliseconds(median(s.restored_in_s for s in statuses)),
        ),
    ]

    # CPU: idle, then per call with one call in flight to every actor at once,
    # which is what load spread over many showtimes looks like (about one
    # operation per call, since nothing is left to batch).
    processes = [psutil.Process(status.pid) for status in statuses]
    idle_s = cpu_seconds(processes)
    time.sleep(IDLE_SAMPLE_S)
    idle_share = (cpu_seconds(processes) - idle_s) / IDLE_SAMPLE_S / len(processes)
    calls, driver_s, actors_s = asyncio.run(spread_calls(directory, sample, processes))
    rows += [
        ("CPU per idle actor", f"{idle_share * 100:.2f} % of a core"),
        (
            f"one call in flight to each of {len(sample)} actors",
            f"{calls / SPREAD_CALLS_S:.0f} calls/s",
        ),
        (
            "  CPU per call, caller / actors (idle share included)",
            f"{driver_s * 1000 / calls:.2f} / {actors_s * 1000 / calls:.2f} ms",
        ),
    ]

    # Group commit: 64 customers churning on one showtime.
    hot = grand[0]
    before = ray.get(directory.handle(hot).status.remote())
    operations, elapsed_s = asyncio.run(churn(directory, hot, customers=64, rounds=20))
    after = ray.get(directory.handle(hot).status.remote())
    commits = after.commits - before.commits
    rows += [
        ("churn: operations", str(operations)),
        ("churn: commits", str(commits)),
        ("churn: operations per commit", f"{operations / max(commits, 1):.1f}"),
        (
            "churn: operations/s (actor calls from one driver)",
            f"{operations / elapsed_s:.0f}",
        ),
    ]

    # Restore after passivation, with the journal the churn left behind.
    directory.handle(hot).passivate.remote()
    wait_for_actor_exit(hot, NAMESPACE)
    directory.forget(hot, directory.handle(hot))
    started = time.perf_counter()
    asyncio.run(directory.seat_map(hot))
    reactivated_s = time.perf_counter() - started
    restored = ray.get(directory.handle(hot).status.remote())
    rows += [
        ("journal length of the hot showtime", str(restored.version)),
        ("reactivation after passivation", f"{reactivated_s * 1000:.0f} ms"),
        (
            "  of which restore from snapshot + journal",
            f"{restored.restored_in_s * 1000:.1f} ms",
        ),
    ]

    ray.shutdown()
    database.dispose()
    width = max(len(name) for name, _ in rows)
    print(f"\nShowtime actor footprint ({os.cpu_count()} cores)")
    for name, value in rows:
        print(f"  {name:<{width}}  {value}")


if __name__ == "__main__":
    main()
