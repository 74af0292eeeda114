"""SIGKILL a showtime actor in the middle of a stream of holds and confirms."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
import ray

from actors.directory import ShowtimeDirectory
from actors.messages import BookingResult, ConfirmHold, HoldResult, HoldSeats
from persistence.database import Database
from tests.factories import create_showtime
from tests.integration.checks import assert_database_agrees_with

pytestmark = pytest.mark.ray

CUSTOMERS = 40
CONCURRENT_CUSTOMERS = 8
KILL_AFTER_ACKNOWLEDGEMENTS = 15
BIG_ROOM = ("SSSSSSSSSS",) * 12


@dataclass
class Ledger:
    holds: dict[str, HoldResult] = field(default_factory=dict)
    bookings: dict[str, BookingResult] = field(default_factory=dict)
    # (sent, answered) monotonic times of every acknowledged command.
    acknowledged_at: list[tuple[float, float]] = field(default_factory=list)


async def customer(
    directory: ShowtimeDirectory, showtime_id: str, n: int, ledger: Ledger
) -> None:
    """Hold two seats, then pay for them: the two steps a buyer makes."""
    customer_id = f"customer-{n}"
    sent = time.monotonic()
    (held,) = await directory.submit(
        showtime_id, [HoldSeats(f"hold-{n}", customer_id, count=2)]
    )
    if not isinstance(held, HoldResult):
        return
    ledger.holds[held.hold_id] = held
    ledger.acknowledged_at.append((sent, time.monotonic()))
    sent = time.monotonic()
    (booked,) = await directory.submit(
        showtime_id,
        [ConfirmHold(f"confirm-{n}", customer_id, held.hold_id, f"pi_{n}")],
    )
    if isinstance(booked, BookingResult):
        ledger.bookings[booked.booking_id] = booked
        ledger.acknowledged_at.append((sent, time.monotonic()))


async def stream_with_a_kill(
    directory: ShowtimeDirectory, showtime_id: str, ledger: Ledger
) -> float:
    """Run every customer, SIGKILL the actor midway; returns when it was killed."""
    limit = asyncio.Semaphore(CONCURRENT_CUSTOMERS)

    async def limited(n: int) -> None:
        async with limit:
            await customer(directory, showtime_id, n, ledger)

    tasks = [asyncio.create_task(limited(n)) for n in range(CUSTOMERS)]
    while len(ledger.acknowledged_at) < KILL_AFTER_ACKNOWLEDGEMENTS:
        await asyncio.sleep(0.01)
    status = await directory.handle(showtime_id).status.remote()
    os.kill(status.pid, signal.SIGKILL)
    killed_at = time.monotonic()
    await asyncio.gather(*tasks)
    return killed_at


def test_a_killed_actor_restarts_with_every_acknowledged_hold_and_booking(
    make_directory: Callable[..., ShowtimeDirectory],
    database: Database,
    report_measurement: Callable[[str], None],
) -> None:
    showtime_id = create_showtime(database, BIG_ROOM)
    directory = make_directory()
    ledger = Ledger()
    first = ray.get(directory.handle(showtime_id).status.remote())

    killed_at = asyncio.run(stream_with_a_kill(directory, showtime_id, ledger))

    # Service is back when a command sent after the kill is answered.
    resumed_s = (
        min(answered for sent, answered in ledger.acknowledged_at if sent > killed_at)
        - killed_at
    )
    report_measurement(
        f"first answer to a command sent after SIGKILL: {resumed_s * 1000:.0f} ms"
    )
    after = ray.get(directory.handle(showtime_id).status.remote())
    assert after.pid != first.pid
    assert after.epoch > first.epoch

    state = ray.get(directory.handle(showtime_id).committed_state.remote())
    bookings = {booking["booking_id"]: booking for booking in state["bookings"]}
    holds = {hold["hold_id"] for hold in state["holds"]}
    # Every customer eventually got an answer, and every answer is still true.
    assert len(ledger.bookings) == CUSTOMERS
    for booking_id, booked in ledger.bookings.items():
        assert bookings[booking_id]["seats"] == list(booked.seats)
    confirmed_holds = {booked.hold_id for booked in ledger.bookings.values()}
    assert set(ledger.holds) - confirmed_holds <= holds
    # Nothing beyond what was acknowledged, and nothing half-applied.
    assert set(bookings) == set(ledger.bookings)
    assert_database_agrees_with(database, showtime_id, state)
