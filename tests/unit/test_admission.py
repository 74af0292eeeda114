"""Shedding by priority: what a busy replica refuses, and what it still admits."""

from __future__ import annotations

import asyncio

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


def test_a_full_replica_sheds_browsing_then_holds_and_admits_orders_last() -> None:
    admission = Admission(limit=8)  # browse up to 4, holds up to 6, orders up to 8
    app, gate = gated_app(admission)

    async def scenario() -> dict[str, list[int]]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            statuses: dict[str, list[int]] = {}

            async def send(kind: str, method: str, path: str) -> httpx.Response:
                response = await http.request(method, path)
                statuses.setdefault(kind, []).append(response.status_code)
                return response

            async def wait_in_flight(count: int) -> None:
                while admission.in_flight < count:
                    await asyncio.sleep(0.001)

            pending = [
                asyncio.create_task(send("first reads", "GET", "/showtimes/s/seats"))
                for _ in range(4)
            ]
            await wait_in_flight(4)
            refused_read = await send("late read", "GET", "/showtimes/s/seats")
            pending += [
                asyncio.create_task(send("holds", "POST", "/showtimes/s/holds"))
                for _ in range(2)
            ]
            await wait_in_flight(6)
            await send("late hold", "POST", "/showtimes/s/holds")
            pending += [
                asyncio.create_task(send("orders", "POST", "/orders")) for _ in range(2)
            ]
            await wait_in_flight(8)
            await send("late order", "POST", "/orders")
            health = await send("health", "GET", "/healthz")
            gate.set()
            await asyncio.gather(*pending)

            assert refused_read.headers["retry-after"] == "1"
            assert refused_read.headers["content-type"] == "application/problem+json"
            assert refused_read.json()["code"] == "overloaded"
            assert health.status_code == 200
            return statuses

    statuses = asyncio.run(scenario())
    assert statuses["first reads"] == [200] * 4
    assert statuses["late read"] == [503]
    assert statuses["holds"] == [200] * 2
    assert statuses["late hold"] == [503]
    assert statuses["orders"] == [200] * 2
    assert statuses["late order"] == [503]
    assert admission.in_flight == 0
    assert admission.shed == {
        Priority.BROWSE: 1,
        Priority.HOLDS: 1,
        Priority.CRITICAL: 1,
    }
