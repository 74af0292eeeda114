"""A small closed-loop HTTP load generator for the benchmarks.

    python -m bench.loadgen < spec.json > result.json

Each simulated client owns one keep-alive connection and runs its scenario
again and again: send, wait for the answer, send the next. Locust and httpx
spend more CPU per request than the servers being measured, which on a
two-core machine would measure the client; this speaks just enough HTTP/1.1
over asyncio streams (on uvloop) to stay out of the way.

It runs in a process of its own so that the benchmark driver, and its Ray
connection, never share an interpreter with the clients.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any

import uvloop


class ConnectionClosed(Exception):
    pass


@dataclass(slots=True)
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Connection:
    """One HTTP/1.1 keep-alive connection; reopened after the server closes it."""

    def __init__(self, host: str, port: int) -> None:
        self._host = host
        self._port = port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def request(
        self,
        method: str,
        path: str,
        *,
        headers: dict[str, str] | None = None,
        body: bytes = b"",
    ) -> Response:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(
                self._host, self._port
            )
        assert self._reader is not None
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self._host}:{self._port}"]
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        lines.append(f"Content-Length: {len(body)}")
        self._writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        try:
            return await self._read_response(self._reader)
        except (ConnectionClosed, ConnectionError, asyncio.IncompleteReadError):
            self.close()
            raise

    async def _read_response(self, reader: asyncio.StreamReader) -> Response:
        head = await reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        if not status_line:
            raise ConnectionClosed("empty status line")
        status = int(status_line.split(" ", 2)[1])
        headers: dict[str, str] = {}
        for line in header_lines:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        if "content-length" in headers:
            body = await reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            body = await self._read_chunked(reader)
        else:
            body = b""
        if headers.get("connection", "").lower() == "close":
            self.close()
        return Response(status, headers, body)

    @staticmethod
    async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
        parts = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                return b"".join(parts)
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None


@dataclass
class Recorder:
    """Latencies and statuses per request kind, counted inside the window only."""

    started: float
    measure_from: float
    measure_until: float
    latencies_ms: dict[str, list[float]] = field(
        default_factory=lambda: defaultdict(list)
    )
    statuses: dict[str, Counter[int]] = field(
        default_factory=lambda: defaultdict(Counter)
    )
    rejections_ms: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)

    def in_window(self, at: float) -> bool:
        return self.measure_from <= at < self.measure_until

    async def timed(self, kind: str, call: Awaitable[Response]) -> Response | None:
        sent = time.perf_counter()
        try:
            response = await call
        except (OSError, ConnectionClosed, asyncio.IncompleteReadError) as exc:
            if self.in_window(sent):
                self.errors[type(exc).__name__] += 1
            await asyncio.sleep(0.05)
            return None
        answered = time.perf_counter()
        if self.in_window(sent):
            elapsed_ms = (answered - sent) * 1000
            self.statuses[kind][response.status] += 1
            if response.status in (429, 503):
                self.rejections_ms.append(elapsed_ms)
            else:
                self.latencies_ms[kind].append(elapsed_ms)
        return response


def percentile(values: list[float], fraction: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def pause_after(response: Response, spec: dict[str, Any]) -> float:
    """How long a refused client waits: the spec's pause, or Retry-After."""
    pause = spec.get("rejected_pause_s", 0.0)
    if pause == "retry-after":
        return float(response.headers.get("retry-after", "1"))
    return float(pause)


def json_body(payload: object) -> tuple[dict[str, str], bytes]:
    return {"Content-Type": "application/json"}, json.dumps(payload).encode()


async def churn(
    connection: Connection,
    recorder: Recorder,
    spec: dict[str, Any],
    client: int,
    rng: random.Random,
) -> None:
    """Hold, then release, again and again, on one of the spec's showtimes."""
    auth = {"Authorization": f"Bearer {spec['tokens'][client]}"}
    prefix = spec["prefix"]
    showtimes = spec["showtimes"]
    seats = spec.get("seats") or []
    # Each client cycles through its own share of the named seats, so named
    # holds never collide: the conventional design's best case.
    own_seats = seats[client :: spec["clients"]] or seats
    turn = 0
    while time.perf_counter() < recorder.measure_until:
        showtime_id = showtimes[rng.randrange(len(showtimes))]
        if spec["mode"] == "named":
            payload: dict[str, Any] = {"seats": [own_seats[turn % len(own_seats)]]}
        else:
            payload = {"count": rng.randint(2, 4), "category": "standard"}
        turn += 1
        headers, body = json_body(payload)
        response = await recorder.timed(
            "hold",
            connection.request(
                "POST",
                f"{prefix}/showtimes/{showtime_id}/holds",
                headers={**auth, **headers},
                body=body,
            ),
        )
        if response is None:
            continue
        if response.status == 201:
            hold_id = response.json()["hold_id"]
            await recorder.timed(
                "release",
                connection.request("DELETE", f"{prefix}/holds/{hold_id}", headers=auth),
            )
        elif response.status in (429, 503):
            await asyncio.sleep(pause_after(response, spec))


async def fetch(
    connection: Connection,
    recorder: Recorder,
    spec: dict[str, Any],
    client: int,
    rng: random.Random,
) -> None:
    """GET the spec's path again and again (trivial endpoint, seat maps)."""
    paths = spec["paths"]
    kind = spec.get("kind", "get")
    while time.perf_counter() < recorder.measure_until:
        path = paths[rng.randrange(len(paths))]
        response = await recorder.timed(kind, connection.request("GET", path))
        if response is not None and response.status in (429, 503):
            await asyncio.sleep(pause_after(response, spec))


SCENARIOS = {"churn": churn, "fetch": fetch}


async def run(specs: list[dict[str, Any]], warmup_s: float, duration_s: float) -> dict:
    started = time.perf_counter()
    recorder = Recorder(
        started=started,
        measure_from=started + warmup_s,
        measure_until=started + warmup_s + duration_s,
    )
    tasks = []
    for spec_index, spec in enumerate(specs):
        scenario = SCENARIOS[spec["scenario"]]
        for client in range(spec["clients"]):
            connection = Connection(spec["host"], spec["port"])
            rng = random.Random(spec_index * 100_003 + client)
            tasks.append(scenario(connection, recorder, spec, client, rng))
    await asyncio.gather(*tasks)
    return summarise(recorder, duration_s)


def summarise(recorder: Recorder, duration_s: float) -> dict[str, Any]:
    kinds = {}
    for kind, statuses in recorder.statuses.items():
        latencies = recorder.latencies_ms.get(kind, [])
        total = sum(statuses.values())
        kinds[kind] = {
            "per_s": total / duration_s,
            "answered_per_s": len(latencies) / duration_s,
            "ok_per_s": sum(n for code, n in statuses.items() if code < 300)
            / duration_s,
            "statuses": {str(code): n for code, n in sorted(statuses.items())},
            "p50_ms": percentile(latencies, 0.50),
            "p99_ms": percentile(latencies, 0.99),
        }
    return {
        "duration_s": duration_s,
        "kinds": kinds,
        "rejections": len(recorder.rejections_ms),
        "rejection_max_ms": max(recorder.rejections_ms, default=None),
        "rejection_p99_ms": percentile(recorder.rejections_ms, 0.99),
        "errors": dict(recorder.errors),
    }


def main() -> None:
    spec = json.load(sys.stdin)
    result = uvloop.run(run(spec["specs"], spec["warmup_s"], spec["duration_s"]))
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
