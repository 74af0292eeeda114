"""Hundreds of concurrent holds from several processes on one showtime.

The same storm runs against a deliberately racy seat map, to show that the
check catches a race when there is one.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from typing import Any

import pytest
import ray

from actors.directory import ShowtimeDirectory
from actors.engine import Outcome
from actors.errors import SeatUnavailable
from actors.messages import Command, HoldResult, HoldSeats
from persistence.database import Database
from tests.factories import create_showtime
from tests.integration.checks import assert_database_agrees_with

pytestmark = pytest.mark.ray

CLIENT_PROCESSES = 4
HOLDS_PER_CLIENT = 80
# Few seats for many customers, so that nearly every request overlaps another.
CONTESTED_SEATS = ("B1", "B2", "B3", "B4", "C1", "C2", "C3", "C4", "C5", "C6")

Acknowledgement = tuple[str, tuple[str, ...]]


@ray.remote(num_cpus=0)
class RacySeatMap:
    """A seat map that checks, yields, then writes: the bug the engine avoids."""

    def __init__(self) -> None:
        self._holder: dict[str, str] = {}

    async def submit(self, commands: list[HoldSeats]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        for command in commands:
            if any(seat in self._holder for seat in command.seats):
                outcomes.append(_refusal())
                continue
            await asyncio.sleep(0.002)  # e.g. a database round trip
            for seat in command.seats:
                self._holder[seat] = command.customer_id
            outcomes.append(
                HoldResult(
                    hold_id=command.request_id,
                    showtime_id="racy",
                    customer_id=command.customer_id,
                    seats=command.seats,
                    expires_at=None,  # type: ignore[arg-type]
                    amount_cents=0,
                    currency="EUR",
                )
            )
        return outcomes


def _refusal() -> Outcome:
    return SeatUnavailable([], "racy")


@ray.remote(num_cpus=0)
def hold_storm(actor: Any, client: int, seed: int) -> list[Acknowledgement]:
    """One client process: many customers asking at once, each for 1-2 seats."""
    rng = random.Random(seed)
    commands: list[Command] = [
        HoldSeats(
            request_id=f"client{client}-{n}",
            customer_id=f"client{client}-customer{n}",
            seats=tuple(rng.sample(CONTESTED_SEATS, rng.randint(1, 2))),
        )
        for n in range(HOLDS_PER_CLIENT)
    ]

    async def all_at_once() -> list[list[Outcome]]:
        return list(await asyncio.gather(*(actor.submit.remote([c]) for c in commands)))

    acknowledged = []
    for (outcome,) in asyncio.run(all_at_once()):
        if isinstance(outcome, HoldResult):
            acknowledged.append((outcome.customer_id, outcome.seats))
    return acknowledged


def storm(actor: Any) -> list[Acknowledgement]:
    results = ray.get(
        [hold_storm.remote(actor, client, client) for client in range(CLIENT_PROCESSES)]
    )
    return [ack for client_acks in results for ack in client_acks]


def assert_no_seat_acknowledged_twice(acknowledged: list[Acknowledgement]) -> None:
    holder: dict[str, str] = {}
    for customer, seats in acknowledged:
        for seat in seats:
            if seat in holder:
                raise AssertionError(
                    f"seat {seat} held by two customers: {holder[seat]} and {customer}"
                )
            holder[seat] = customer


def test_concurrent_holds_from_several_processes_never_share_a_seat(
    make_directory: Callable[..., ShowtimeDirectory], database: Database
) -> None:
    showtime_id = create_showtime(database)
    directory = make_directory()
    actor = directory.handle(showtime_id)

    acknowledged = storm(actor)

    assert acknowledged, "no hold succeeded at all"
    assert_no_seat_acknowledged_twice(acknowledged)
    state = ray.get(actor.committed_state.remote())
    assert sorted(
        (hold["customer_id"], tuple(hold["seats"])) for hold in state["holds"]
    ) == sorted(acknowledged)
    assert_database_agrees_with(database, showtime_id, state)


def test_the_same_check_catches_a_racy_seat_map(ray_cluster: str) -> None:
    racy = RacySeatMap.remote()  # type: ignore[attr-defined]

    acknowledged = storm(racy)

    with pytest.raises(AssertionError, match="held by two customers"):
        assert_no_seat_acknowledged_twice(acknowledged)
    ray.kill(racy)
