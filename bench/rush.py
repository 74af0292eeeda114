"""The premiere rush: Marquee against the conventional reference, same run.

    python -m bench.rush [--duration 8] [--clients 64] [--rounds 3] [--only named,party]

Starts Marquee's booking application on a Ray cluster of its own (HAProxy
ingress, the settings `make run` uses with rate limits lifted) and the
reference (`bench/reference`) on uvicorn, both on Postgres with
`synchronous_commit` on, then drives each with the same closed-loop clients
(`bench/loadgen.py`) and prints a table with the ratios issue 5 asks for.
Absolute figures drift on a shared machine; the ratios, taken in rounds with
the two targets taking turns, are what to compare.
Checks nothing: timings are not behaviour.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import ray
from ray import serve
from ray.serve.api import RunTarget
from sqlalchemy import create_engine, text
from sqlalchemy.ext.asyncio import create_async_engine

from actors.showtime_actor import actor_name
from bench.floor import FLOOR_PATH, FLOOR_PREFIX, floor_application, spread_calls
from bench.reference.app import add_showtime, create_schema
from config.settings import Settings
from persistence import showtime_store
from persistence.database import Database
from persistence.models import Base
from persistence.schema import migrate
from serve.booking.app import ROUTE_PREFIX, booking_application
from serve.http.auth import TokenService
from serve.launcher import free_port, private_haproxy_environment

SERVER_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
BENCH_DATABASE = "marquee_bench"
BENCH_URL = f"postgresql+psycopg://postgres@127.0.0.1:5432/{BENCH_DATABASE}"
NAMESPACE = "marquee-bench"
# 20 rows of 25 seats with an aisle: 500 seats, the size of a large house.
BENCH_LAYOUT = ["SSSSSSSSSSSS.SSSSSSSSSSSSS"] * 20
PRICES = {"standard": 1200, "premium": 1600, "wheelchair": 1200, "companion": 1200}
HOT_SHOWTIME = "bench-000"
MANY_SHOWTIMES = [f"bench-{n:03d}" for n in range(50)]
FIRST_REPLICA_PORT = 33100


@dataclass(frozen=True)
class Target:
    name: str
    port: int
    prefix: str
    trivial_path: str


def ensure_database() -> None:
    server = create_engine(SERVER_URL, isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        exists = connection.scalar(
            text("SELECT 1 FROM pg_database WHERE datname = :name"),
            {"name": BENCH_DATABASE},
        )
        if not exists:
            connection.execute(text(f"CREATE DATABASE {BENCH_DATABASE}"))
        durable = connection.scalar(text("SHOW synchronous_commit"))
    server.dispose()
    if durable != "on":
        raise SystemExit(f"synchronous_commit is {durable}; the benchmark needs on")


def reset_database() -> None:
    engine = create_engine(BENCH_URL)
    with engine.begin() as connection:
        Base.metadata.drop_all(connection)
        connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
        for table in ("reference_holds", "reference_seats", "reference_showtimes"):
            connection.execute(text(f"DROP TABLE IF EXISTS {table}"))
    engine.dispose()
    migrate(BENCH_URL)

    now = datetime.now(UTC)
    database = Database(BENCH_URL, pool_size=1)
    with database.sessions.begin() as session:
        showtime_store.create_auditorium(
            session, "bench-hall", "Bench hall", BENCH_LAYOUT, now
        )
        session.flush()
        for showtime_id in MANY_SHOWTIMES:
            showtime_store.create_showtime(
                session,
                showtime_id=showtime_id,
                auditorium_id="bench-hall",
                starts_at=now + timedelta(days=7),
                prices_cents=PRICES,
                currency="EUR",
                now=now,
            )
    database.dispose()

    async def reference_rows() -> None:
        engine = create_async_engine(BENCH_URL)
        async with engine.begin() as connection:
            await create_schema(connection)
            for showtime_id in MANY_SHOWTIMES:
                await add_showtime(connection, showtime_id, BENCH_LAYOUT)
        await engine.dispose()

    asyncio.run(reference_rows())


def bench_settings(port: int) -> Settings:
    unlimited = 10**9
    return Settings(
        database_url=BENCH_URL,
        redis_url=None,
        http_port=port,
        ray_namespace=NAMESPACE,
        log_level="WARNING",
        rate_limit_per_minute=unlimited,
        rate_limit_holds_per_minute=unlimited,
        actor_idle_s=3600,
    )


@contextmanager
def marquee(settings: Settings) -> Iterator[Target]:
    directory = Path(tempfile.mkdtemp(prefix="mqb-", dir="/tmp"))
    environment = private_haproxy_environment(directory, first_port=FIRST_REPLICA_PORT)
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    os.environ.update(environment)
    ray.init(
        namespace=NAMESPACE,
        include_dashboard=False,
        log_to_driver=False,
        configure_logging=False,
    )
    try:
        serve.start(
            http_options={"host": "127.0.0.1", "port": settings.http_port},
            controller_options={"runtime_env": {"env_vars": environment}},
        )
        serve.run_many(
            [
                RunTarget(
                    target=booking_application(settings),
                    name="booking",
                    route_prefix=ROUTE_PREFIX,
                )
            ]
        )
        yield Target(
            name="marquee",
            port=settings.http_port,
            prefix=ROUTE_PREFIX,
            trivial_path=f"{ROUTE_PREFIX}/healthz",
        )
    finally:
        serve.shutdown()
        ray.shutdown()


@contextmanager
def reference(workers: int) -> Iterator[Target]:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable, "-m", "uvicorn", "bench.reference.app:app",
            "--host", "127.0.0.1", "--port", str(port),
            "--workers", str(workers), "--loop", "uvloop", "--http", "httptools",
            "--no-access-log", "--log-level", "warning",
        ],
        env={**os.environ, "MARQUEE_REFERENCE_DATABASE_URL": BENCH_URL},
    )  # fmt: skip
    try:
        wait_until_up(f"http://127.0.0.1:{port}/healthz")
        yield Target(name="reference", port=port, prefix="", trivial_path="/healthz")
    finally:
        process.terminate()
        process.wait(timeout=30)


def wait_until_up(url: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url} did not come up in {timeout_s:.0f} s")


def load(specs: list[dict[str, Any]], warmup_s: float, duration_s: float) -> dict:
    """Run bench.loadgen in a process of its own; its summary."""
    completed = subprocess.run(
        [sys.executable, "-m", "bench.loadgen"],
        input=json.dumps(
            {"specs": specs, "warmup_s": warmup_s, "duration_s": duration_s}
        ),
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, Any] = json.loads(completed.stdout)
    return result


def churn_spec(
    target: Target,
    mode: str,
    clients: int,
    tokens: list[str],
    showtimes: list[str],
) -> dict[str, Any]:
    return {
        "scenario": "churn",
        "mode": mode,
        "host": "127.0.0.1",
        "port": target.port,
        "prefix": target.prefix,
        "clients": clients,
        "tokens": tokens,
        "showtimes": showtimes,
        "seats": [
            f"{chr(ord('A') + row)}{number}"
            for row in range(len(BENCH_LAYOUT))
            for number in range(1, 25 + 1)
        ],
    }


def fetch_spec(
    target: Target, paths: list[str], clients: int, kind: str
) -> dict[str, Any]:
    return {
        "scenario": "fetch",
        "host": "127.0.0.1",
        "port": target.port,
        "clients": clients,
        "paths": paths,
        "kind": kind,
    }


def customer_tokens(settings: Settings, count: int) -> list[str]:
    tokens = TokenService(
        settings.signing_keys(),
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        access_ttl_s=3600,
        refresh_ttl_s=3600,
    )
    return [
        tokens.issue_access(f"bench-customer-{n}", ["customer"]).token
        for n in range(count)
    ]


Scenario = Callable[[Target], dict[str, Any]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=8.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--reference-workers", type=int, default=2)
    parser.add_argument("--only", default="")
    parser.add_argument("--targets", default="reference,marquee")
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="turns each target takes per compared figure",
    )
    parser.add_argument("--json", action="store_true", help="print raw figures too")
    arguments = parser.parse_args()
    only = set(filter(None, arguments.only.split(",")))

    ensure_database()
    reset_database()
    settings = bench_settings(free_port())
    tokens = customer_tokens(settings, arguments.clients * 8)
    clients = arguments.clients
    warmup, duration = arguments.warmup, arguments.duration

    def hot(mode: str) -> Scenario:
        return lambda target: load(
            [churn_spec(target, mode, clients, tokens, [HOT_SHOWTIME])],
            warmup,
            duration,
        )

    def trivial(target: Target) -> dict[str, Any]:
        return load(
            [fetch_spec(target, [target.trivial_path], clients, "get")],
            warmup,
            duration,
        )

    def storm_with_reads(path_of: Callable[[Target], str]) -> Scenario:
        def run(target: Target) -> dict[str, Any]:
            return load(
                [
                    churn_spec(target, "named", clients, tokens, [HOT_SHOWTIME]),
                    fetch_spec(target, [path_of(target)], clients, "read"),
                ],
                warmup,
                duration,
            )

        return run

    def many(target: Target) -> dict[str, Any]:
        # Every showtime's actor is started before the clock runs: activation
        # is measured by `bench.actor_footprint`, not here.
        def activate(showtime_id: str) -> None:
            url = f"http://127.0.0.1:{target.port}{target.prefix}"
            url += f"/showtimes/{showtime_id}/seats"
            deadline = time.monotonic() + 300
            while True:
                response = httpx.get(url, timeout=120)
                # Fifty starting at once queue behind Ray's worker start-up;
                # one not started within the request timeout is a 503.
                if response.status_code != 503 or time.monotonic() > deadline:
                    response.raise_for_status()
                    return
                time.sleep(float(response.headers.get("retry-after", "1")))

        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(activate, MANY_SHOWTIMES))
        return load(
            [churn_spec(target, "named", clients, tokens, MANY_SHOWTIMES)],
            warmup,
            duration,
        )

    def floor(target: Target) -> dict[str, Any]:
        serve.run(
            floor_application(settings.booking_replicas),
            name="floor",
            route_prefix=FLOOR_PREFIX,
        )
        try:
            return load(
                [fetch_spec(target, [FLOOR_PATH], clients, "get")], warmup, duration
            )
        finally:
            serve.delete("floor")

    def ray_alone(target: Target) -> dict[str, Any]:
        result = spread_calls(len(MANY_SHOWTIMES), clients, warmup, duration)
        result["commits"] = None
        return result

    def overload(pause: float | str) -> Scenario:
        # Five times the clients that reach the peak. A refused client waits
        # (as Retry-After asks, or less) and tries again.
        def run(target: Target) -> dict[str, Any]:
            spec = churn_spec(target, "named", clients * 5, tokens, [HOT_SHOWTIME])
            spec["rejected_pause_s"] = pause
            return load([spec], warmup, duration)

        return run

    scenarios: dict[str, Scenario] = {
        "trivial": trivial,
        "named": hot("named"),
        "party": hot("party"),
        "storm+trivial": storm_with_reads(lambda target: target.trivial_path),
        "storm+seatmap": storm_with_reads(
            lambda target: f"{target.prefix}/showtimes/{HOT_SHOWTIME}/seats"
        ),
        "overload": overload("retry-after"),
        "overload-impatient": overload(0.1),
        # What the shape itself allows, with no work: they bound the churn
        # and the fifty-showtime figures (`bench/floor.py`). Marquee only.
        "floor": floor,
        "ray-alone": ray_alone,
        # Last: its fifty idle actors would weigh on whatever ran after it.
        "many": many,
    }
    # The reference answers the same paths, but only these figures compare.
    # They run in rounds, the two targets taking turns (ABBA): this VM's speed
    # drifts by half within minutes, and a ratio of two figures taken a minute
    # apart would measure the drift. Only one target is up at a time, since an
    # idle Ray cluster beside the reference would slow it down.
    compared = ["trivial", "named", "party"]
    wanted = [name for name in scenarios if not only or name in only]
    target_names = arguments.targets.split(",")
    runs: dict[str, list[dict[str, Any]]] = defaultdict(list)
    targets = {
        "reference": lambda: reference(arguments.reference_workers),
        "marquee": lambda: marquee(settings),
    }

    def run(target: Target, name: str) -> None:
        before = commit_counters(target)
        result = scenarios[name](target)
        result["commits"] = commit_figures(before, commit_counters(target))
        runs[f"{target.name}:{name}"].append(result)
        print(f"{target.name} {name}: {summary_line(result)}", flush=True)

    rounds = arguments.rounds if any(name in compared for name in wanted) else 1
    for turn in range(rounds):
        order = target_names if turn % 2 == 0 else target_names[::-1]
        for target_name in order:
            with targets[target_name]() as target:
                for name in wanted:
                    if name in compared:
                        run(target, name)
                if target_name == "marquee" and turn == rounds - 1:
                    for name in wanted:
                        if name not in compared:
                            run(target, name)

    results = {key: merged(rounds) for key, rounds in runs.items()}
    for name in ("named", "trivial"):
        if runs.get(f"marquee:{name}"):
            # The overload, floor and spread figures run in Marquee's last
            # turn; they compare with figures from that turn, not the rounds'.
            results[f"marquee:{name}, last turn"] = runs[f"marquee:{name}"][-1]
    if arguments.json:
        print(json.dumps(runs, indent=1))
    print_table(results, runs, clients)


def merged(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """One result for several rounds: each figure's mean over the rounds."""
    if len(rounds) == 1:
        return rounds[0]
    kinds: dict[str, dict[str, float]] = {}
    for kind in rounds[0]["kinds"]:
        figures = [r["kinds"][kind] for r in rounds if kind in r["kinds"]]
        kinds[kind] = {
            name: statistics.fmean(f[name] or 0.0 for f in figures)
            for name in ("per_s", "ok_per_s", "p50_ms", "p99_ms")
        }
    return {**rounds[-1], "kinds": kinds}


def figure(results: dict[str, Any], key: str, kind: str, name: str) -> float | None:
    value = results.get(key, {}).get("kinds", {}).get(kind, {}).get(name)
    return None if value is None else float(value)


def requests_per_s(results: dict[str, Any], key: str) -> float | None:
    kinds = results.get(key, {}).get("kinds")
    if not kinds:
        return None
    return float(sum(k["per_s"] for k in kinds.values()))


def print_table(
    results: dict[str, Any], runs: dict[str, list[dict[str, Any]]], clients: int
) -> None:
    """The figures issue 5 sets targets for, each with its target and verdict.

    Marquee against the reference is the median of the rounds' ratios, each
    taken from two runs seconds apart; other figures are means over rounds.
    """
    rows: list[tuple[str, str, str, str]] = []

    def ratio(
        label: str, value: float | None, base: float | None, target: float
    ) -> None:
        if value is None or not base:
            return
        achieved = value / base
        verdict = "met" if achieved >= target else "NOT met"
        rows.append((label, f"{achieved:.2f}x", f">= {target:g}x", verdict))

    def plain(label: str, value: float | None, unit: str) -> None:
        if value is not None:
            rows.append((label, f"{value:,.0f} {unit}", "", ""))

    def bound(label: str, value: float | None, base: float | None) -> None:
        # A ceiling the shape sets, printed beside the target it bounds.
        if value is not None and base:
            rows.append((label, f"{value / base:.2f}x", "", "(bound)"))

    trivial = requests_per_s(results, "marquee:trivial")
    plain(
        "reference trivial GET", requests_per_s(results, "reference:trivial"), "req/s"
    )
    plain("Marquee trivial GET (healthz)", trivial, "req/s")
    for mode, target in (("named", 1.5), ("party", 3.0)):
        ours = figure(results, f"marquee:{mode}", "hold", "ok_per_s")
        theirs = figure(results, f"reference:{mode}", "hold", "ok_per_s")
        plain(f"reference {mode} holds", theirs, "holds/s")
        plain(f"Marquee {mode} holds", ours, "holds/s")
        round_ratios = [
            ours_run["kinds"]["hold"]["ok_per_s"]
            / reference_run["kinds"]["hold"]["ok_per_s"]
            for ours_run, reference_run in zip(
                runs.get(f"marquee:{mode}", []),
                runs.get(f"reference:{mode}", []),
                strict=False,
            )
            if reference_run["kinds"].get("hold", {}).get("ok_per_s")
            and "hold" in ours_run["kinds"]
        ]
        if round_ratios:
            achieved = statistics.median(round_ratios)
            rows.append(
                (
                    f"{mode}: Marquee / reference, median of rounds",
                    f"{achieved:.2f}x",
                    f">= {target:g}x",
                    _verdict(achieved >= target),
                )
            )
            rows.append(
                (
                    "  each round",
                    " / ".join(f"{value:.2f}" for value in round_ratios),
                    "",
                    "",
                )
            )
        ratio(
            f"{mode}: churn req/s / trivial req/s",
            requests_per_s(results, f"marquee:{mode}"),
            trivial,
            0.5,
        )
        for tail in ("p50_ms", "p99_ms"):
            value = figure(results, f"marquee:{mode}", "hold", tail)
            if value is not None:
                rows.append(
                    (f"{mode}: Marquee hold {tail[:3]}", f"{value:.1f} ms", "", "")
                )
    bound(
        "floor: a no-op batched actor call / trivial, same turn",
        requests_per_s(results, "marquee:floor"),
        requests_per_s(results, "marquee:trivial, last turn"),
    )
    ratio(
        "seat-map reads / trivial reads, same storm",
        figure(results, "marquee:storm+seatmap", "read", "ok_per_s"),
        figure(results, "marquee:storm+trivial", "read", "ok_per_s"),
        0.8,
    )
    ratio(
        "50 showtimes / one showtime (holds/s)",
        figure(results, "marquee:many", "hold", "ok_per_s"),
        figure(results, "marquee:named, last turn", "hold", "ok_per_s"),
        1.0,
    )
    alone = figure(results, "marquee:ray-alone", "call", "ok_per_s")
    plain(
        f"  Ray alone: no-op calls over 50 actors, {clients} in flight",
        alone,
        "calls/s",
    )
    # A hold and its release are two calls when each call carries one.
    bound(
        "  its holds/s (two calls a hold) / one showtime",
        None if alone is None else alone / 2,
        figure(results, "marquee:named, last turn", "hold", "ok_per_s"),
    )
    for key, who in (
        ("marquee:overload", "waiting as Retry-After asks"),
        ("marquee:overload-impatient", "retrying after 0.1 s"),
    ):
        overload_rows(rows, results, key, who, clients)
    width = max(len(row[0]) for row in rows) if rows else 10
    print(f"\n{'figure':<{width}}  {'measured':>14}  {'target':>9}  verdict")
    for label, measured, target, verdict in rows:
        print(f"{label:<{width}}  {measured:>14}  {target:>9}  {verdict}")


def overload_rows(
    rows: list[tuple[str, str, str, str]],
    results: dict[str, Any],
    key: str,
    who: str,
    clients: int,
) -> None:
    overload = results.get(key)
    peak = figure(results, "marquee:named, last turn", "hold", "ok_per_s")
    if not overload or not peak:
        return
    rows.append((f"{clients * 5} clients {who}:", "", "", ""))
    goodput = (figure(results, key, "hold", "ok_per_s") or 0.0) / peak
    rows.append(
        (
            "  goodput / peak goodput",
            f"{goodput:.2f}x",
            ">= 0.9x",
            _verdict(goodput >= 0.9),
        )
    )
    slowest = overload.get("rejection_max_ms")
    if slowest is not None:
        rows.append(
            (
                "  slowest rejection",
                f"{slowest:.1f} ms",
                "<= 50 ms",
                _verdict(slowest <= 50),
            )
        )
    peak_p99 = figure(results, "marquee:named, last turn", "hold", "p99_ms")
    loaded_p99 = figure(results, key, "hold", "p99_ms")
    if peak_p99 and loaded_p99:
        stretch = loaded_p99 / peak_p99
        rows.append(
            (
                "  admitted hold p99 / peak p99",
                f"{stretch:.2f}x",
                "<= 2x",
                _verdict(stretch <= 2),
            )
        )
    rows.append(("  rejections answered", f"{overload['rejections']:,}", "", ""))


def _verdict(met: bool) -> str:
    return "met" if met else "NOT met"


Counters = tuple[int, int, float, int, float]


def commit_counters(target: Target) -> dict[str, Counters]:
    """Each live bench actor's (commits, events, seconds writing) so far."""
    if target.name != "marquee":
        return {}
    counters = {}
    for showtime_id in MANY_SHOWTIMES:
        try:
            actor = ray.get_actor(actor_name(showtime_id), namespace=NAMESPACE)
        except ValueError:
            continue
        status = ray.get(actor.status.remote())
        counters[showtime_id] = (
            status.commits,
            status.committed_events,
            status.commit_seconds,
            status.calls,
            status.call_seconds,
        )
    return counters


def commit_figures(
    before: dict[str, Counters], after: dict[str, Counters]
) -> dict[str, float] | None:
    totals = [0.0] * 5
    for showtime_id, now in after.items():
        then = before.get(showtime_id, (0, 0, 0.0, 0, 0.0))
        totals = [t + n - b for t, n, b in zip(totals, now, then, strict=True)]
    commits, events, seconds, calls, call_seconds = totals
    if not commits or not calls:
        return None
    return {
        "commits": commits,
        "events_per_commit": events / commits,
        "ms_per_commit": seconds * 1000 / commits,
        "events_per_call": events / calls,
        "ms_per_call": call_seconds * 1000 / calls,
    }


def summary_line(result: dict[str, Any]) -> str:
    parts = []
    for kind, figures in result["kinds"].items():
        parts.append(
            f"{kind} {figures['per_s']:.0f}/s ok {figures['ok_per_s']:.0f}/s "
            f"p50 {figures['p50_ms'] or 0:.1f} ms p99 {figures['p99_ms'] or 0:.1f} ms "
            f"{figures['statuses']}"
        )
    if result.get("commits"):
        figures = result["commits"]
        parts.append(
            f"{figures['events_per_commit']:.1f} events/commit, "
            f"{figures['ms_per_commit']:.1f} ms/commit, "
            f"{figures['events_per_call']:.1f} events/call, "
            f"{figures['ms_per_call']:.1f} ms/call in the actor"
        )
    if result["errors"]:
        parts.append(f"errors {result['errors']}")
    return "; ".join(parts)


if __name__ == "__main__":
    main()
