"""Shedding by priority: what a busy replica refuses, and what it still admits."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import httpx
from fastapi import FastAPI

from serve.booking.app import BOOKING_PRIORITIES
from serve.http.admission import Admission, AdmissionMiddleware, Priority


def gated_app(admission: Admission) -> tuple[FastAPI, asyncio.Event]:
    """Every route waits for the gate, so requests pile up in flight."""
    app = FastAPI()
    gate = asyncio.Event()

    @app.get("/showtimes/{showtime_id}/seats")
    async def seats(showtime_id: str) -> dict[str, str]:
        await gate.wait()
        return {"ok": "seats"}

    @app.post("/showtimes/{showtime_id}/holds")
    async def hold(showtime_id: str) -> dict[str, str]:
        await gate.wait()
        return {"ok": "hold"}

    @app.post("/orders")
    async def order() -> dict[str, str]:
        await gate.wait()
        return {"ok": "order"}

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    app.add_middleware(
        AdmissionMiddleware, admission=admission, classify=BOOKING_PRIORITIES
    )
    return app, gate


def test_booking_routes_are_classified_by_what_they_finish() -> None:
    assert BOOKING_PRIORITIES("GET", "/showtimes/s1/seats") is Priority.BROWSE
    assert BOOKING_PRIORITIES("POST", "/showtimes/s1/holds") is Priority.HOLDS
    assert BOOKING_PRIORITIES("DELETE", "/holds/h1") is Priority.CRITICAL
    assert BOOKING_PRIORITIES("POST", "/orders") is Priority.CRITICAL
    assert BOOKING_PRIORITIES("POST", "/api/v1/booking/orders") is Priority.CRITICAL
    assert BOOKING_PRIORITIES("POST", "/bookings/b1/cancel") is Priority.CRITICAL
    assert BOOKING_PRIORITIES("GET", "/bookings/b1") is Priority.BROWSE


Send = Callable[[str, str, str], Awaitable[httpx.Response]]


def run_scenario(
    admission: Admission,
    steps: Callable[[Send, Callable[[int], Awaitable[None]]], Awaitable[None]],
) -> dict[str, list[int]]:
    """Drive the gated app: `steps` may leave requests waiting at the gate."""
    app, gate = gated_app(admission)
    statuses: dict[str, list[int]] = {}

    async def scenario() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            pending: list[asyncio.Task[httpx.Response]] = []

            async def send(kind: str, method: str, path: str) -> httpx.Response:
                response = await http.request(method, path)
                statuses.setdefault(kind, []).append(response.status_code)
                return response

            async def send_waiting(kind: str, method: str, path: str) -> httpx.Response:
                task = asyncio.create_task(send(kind, method, path))
                pending.append(task)
                return httpx.Response(0)

            async def wait_in_flight(count: int) -> None:
                while admission.in_flight < count:
                    await asyncio.sleep(0.001)

            async def step_send(kind: str, method: str, path: str) -> httpx.Response:
                if kind.startswith("late") or kind == "health":
                    return await send(kind, method, path)
                return await send_waiting(kind, method, path)

            await steps(step_send, wait_in_flight)
            gate.set()
            await asyncio.gather(*pending)

    asyncio.run(scenario())
    return statuses


def test_browsing_has_a_budget_of_its_own_beside_the_work() -> None:
    admission = Admission(limit=8)  # holds below 5 at work, browsing below 6

    async def steps(
        send: Send, wait_in_flight: Callable[[int], Awaitable[None]]
    ) -> None:
        for _ in range(6):
            await send("reads", "GET", "/showtimes/s/seats")
        await wait_in_flight(6)
        refused = await send("late read", "GET", "/showtimes/s/seats")
        assert refused.headers["retry-after"] == "1"
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["code"] == "overloaded"
        await send("holds", "POST", "/showtimes/s/holds")
        await wait_in_flight(7)

    statuses = run_scenario(admission, steps)
    assert statuses["reads"] == [200] * 6
    assert statuses["late read"] == [503]
    assert statuses["holds"] == [200]
    assert admission.in_flight == 0


def test_once_holds_are_refused_so_is_browsing_and_orders_go_on_to_the_end() -> None:
    admission = Admission(limit=8)

    async def steps(
        send: Send, wait_in_flight: Callable[[int], Awaitable[None]]
    ) -> None:
        for _ in range(5):
            await send("holds", "POST", "/showtimes/s/holds")
        await wait_in_flight(5)
        await send("late hold", "POST", "/showtimes/s/holds")
        await send("late read", "GET", "/showtimes/s/seats")
        for _ in range(3):
            await send("orders", "POST", "/orders")
        await wait_in_flight(8)
        await send("late order", "POST", "/orders")
        health = await send("health", "GET", "/healthz")
        assert health.status_code == 200

    statuses = run_scenario(admission, steps)
    assert statuses["holds"] == [200] * 5
    assert statuses["late hold"] == [503]
    assert statuses["late read"] == [503]
    assert statuses["orders"] == [200] * 3
    assert statuses["late order"] == [503]
    assert admission.in_flight == 0
    assert admission.shed == {
        Priority.BROWSE: 1,
        Priority.HOLDS: 1,
        Priority.CRITICAL: 1,
    }
