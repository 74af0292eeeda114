"""Whatever happened to a showtime, a restore from the database equals it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actors.engine import ShowtimeEngine
from actors.messages import (
    BlockSeats,
    BookingResult,
    CancelBooking,
    ConfirmHold,
    HoldResult,
    HoldSeats,
    ReleaseHold,
)
from persistence.database import Database
from tests.factories import create_showtime, engine_config
from tests.integration.checks import assert_database_agrees

LAYOUT = ("SSSS.SS", "SSSSSS.", "PPP.PP")
SEATS_PER_ROW = {"A": 6, "B": 6, "C": 5}
LABELS = [
    f"{row}{n}" for row, count in SEATS_PER_ROW.items() for n in range(1, count + 1)
]
CUSTOMERS = ["ann", "ben", "cat"]

steps = st.lists(
    st.one_of(
        st.tuples(
            st.just("hold"),
            st.sampled_from(CUSTOMERS),
            st.lists(st.sampled_from(LABELS), min_size=1, max_size=3, unique=True),
        ),
        st.tuples(st.just("best"), st.sampled_from(CUSTOMERS), st.integers(1, 4)),
        st.tuples(st.just("release"), st.sampled_from(CUSTOMERS)),
        st.tuples(st.just("confirm"), st.sampled_from(CUSTOMERS)),
        st.tuples(st.just("cancel"), st.integers(0, 5)),
        st.tuples(st.just("block"), st.sampled_from(LABELS)),
        st.tuples(st.just("wait"), st.sampled_from([10, 100, 301])),
        st.tuples(st.just("snapshot")),
    ),
    max_size=30,
)


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


async def play(engine: ShowtimeEngine, clock: Clock, plan: list[tuple]) -> None:  # type: ignore[type-arg]
    holds: dict[str, str] = {}
    bookings: list[str] = []
    for number, step in enumerate(plan):
        request_id = f"r{number}"
        match step:
            case ("hold", customer, seats):
                command = HoldSeats(request_id, customer, tuple(seats))
            case ("best", customer, count):
                command = HoldSeats(request_id, customer, count=count)
            case ("release", customer):
                command = ReleaseHold(request_id, customer, holds.get(customer, "none"))
            case ("confirm", customer):
                hold_id = holds.get(customer, "none")
                command = ConfirmHold(request_id, customer, hold_id, "pi")
            case ("cancel", index):
                booking_id = bookings[index % len(bookings)] if bookings else "none"
                command = CancelBooking(request_id, booking_id, None)
            case ("block", seat):
                command = BlockSeats(request_id, (seat,))
            case ("wait", seconds):
                clock.now += timedelta(seconds=seconds)
                engine.expire_holds()
                continue
            case _:
                await engine.drain()
                await engine.snapshot()
                continue
        (outcome,) = await engine.submit([command])
        if isinstance(outcome, HoldResult):
            holds[outcome.customer_id] = outcome.hold_id
        elif isinstance(outcome, BookingResult):
            bookings.append(outcome.booking_id)
    await engine.drain()


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(plan=steps)
def test_a_restore_from_the_database_equals_the_state_before_it(
    database: Database,
    plan: list[tuple],  # type: ignore[type-arg]
) -> None:
    clock = Clock()
    showtime_id = create_showtime(database, LAYOUT, now=clock.now)
    config = engine_config(hold_ttl_s=300)
    engine = ShowtimeEngine(database, showtime_id, config, clock=clock)
    engine.activate()

    asyncio.run(play(engine, clock, plan))
    restored = ShowtimeEngine(database, showtime_id, config, clock=clock)
    restored.activate()

    assert restored.committed().to_snapshot() == engine.committed().to_snapshot()
    restored.committed().check_invariants()
    assert_database_agrees(database, restored.committed())
