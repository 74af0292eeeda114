"""Showtime actors on a real Ray cluster: activation, passivation, expiry."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest
import ray

from actors import errors
from actors.directory import ShowtimeDirectory, wait_for_actor_exit
from actors.messages import (
    BlockSeats,
    CancelBooking,
    Command,
    ConfirmHold,
    HoldResult,
    HoldSeats,
    ReleaseHold,
    SeatMapView,
    UnblockSeats,
)
from actors.showtime_actor import ActorOptions
from persistence.database import Database
from tests.factories import create_showtime

pytestmark = pytest.mark.ray

DirectoryFactory = Callable[..., ShowtimeDirectory]


@ray.remote(num_cpus=0)
def first_call(showtime_id: str, options: ActorOptions, namespace: str) -> int:
    directory = ShowtimeDirectory(options, namespace=namespace)
    status = ray.get(directory.handle(showtime_id).status.remote())
    return int(status.pid)


def view_of(directory: ShowtimeDirectory, showtime_id: str) -> SeatMapView:
    view = asyncio.run(directory.seat_map(showtime_id))
    assert isinstance(view, SeatMapView), view
    return view


def test_concurrent_first_calls_from_several_processes_reach_one_actor(
    make_directory: DirectoryFactory, database: Database, ray_cluster: str
) -> None:
    showtime_id = create_showtime(database)
    directory = make_directory()

    pids = ray.get(
        [first_call.remote(showtime_id, directory._options, ray_cluster)] * 6
    )
    status = ray.get(directory.handle(showtime_id).status.remote())

    assert set(pids) == {status.pid}
    assert status.epoch == 1


def test_an_idle_actor_passivates_and_comes_back_with_its_state(
    make_directory: DirectoryFactory,
    database: Database,
    ray_cluster: str,
    report_measurement: Callable[[str], None],
) -> None:
    showtime_id = create_showtime(database)
    directory = make_directory(idle_s=1.0)
    command = HoldSeats("r1", "alice", count=2)
    (held,) = directory.submit_blocking(showtime_id, [command])
    assert isinstance(held, HoldResult)

    assert wait_for_actor_exit(showtime_id, ray_cluster, timeout_s=15)
    started = time.perf_counter()
    (again,) = make_directory().submit_blocking(showtime_id, [command])
    reactivated_s = time.perf_counter() - started

    report_measurement(f"reactivation after passivation: {reactivated_s * 1000:.0f} ms")
    assert again == held
    assert view_of(directory, showtime_id).counts["held"] == 2
    assert ray.get(directory.handle(showtime_id).status.remote()).epoch == 2


def test_holds_expire_and_return_to_sale_with_no_request(
    make_directory: DirectoryFactory, database: Database
) -> None:
    showtime_id = create_showtime(database)
    directory = make_directory(hold_ttl_s=0.5)
    directory.submit_blocking(showtime_id, [HoldSeats("r1", "alice", ("A1", "A2"))])

    deadline = time.monotonic() + 10
    while (
        view_of(directory, showtime_id).counts["held"] and time.monotonic() < deadline
    ):
        time.sleep(0.1)

    assert view_of(directory, showtime_id).counts["held"] == 0


def test_an_unknown_showtime_is_not_found_and_leaves_no_actor_behind(
    make_directory: DirectoryFactory, ray_cluster: str
) -> None:
    directory = make_directory()

    (outcome,) = directory.submit_blocking(
        "no-such-showtime", [HoldSeats("r", "a", count=1)]
    )

    assert isinstance(outcome, errors.ShowtimeNotFound)
    assert wait_for_actor_exit("no-such-showtime", ray_cluster)


def _bad_commands(
    hold_id: str, booking_id: str
) -> list[tuple[Command, type[errors.MarqueeError]]]:
    return [
        (HoldSeats("b1", "bob", ("Z99",)), errors.UnknownSeat),
        (HoldSeats("b2", "bob", ("B1", "B1")), errors.DuplicateSeat),
        (HoldSeats("b3", "bob", count=0), errors.InvalidSeatCount),
        (HoldSeats("b4", "bob", count=11), errors.SeatLimitExceeded),
        (HoldSeats("b5", "bob", ("A1",)), errors.SeatUnavailable),
        (ReleaseHold("b6", "bob", "made-up-hold"), errors.HoldNotFound),
        (ReleaseHold("b7", "bob", hold_id), errors.HoldNotFound),
        (ConfirmHold("b8", "bob", hold_id, "pi"), errors.HoldNotFound),
        (CancelBooking("b9", booking_id, "carol"), errors.BookingAlreadyCancelled),
        (CancelBooking("b10", booking_id, "bob"), errors.BookingNotFound),
        (UnblockSeats("b11", ("C1",)), errors.SeatNotBlocked),
        (BlockSeats("b12", ("A1",)), errors.SeatUnavailable),
    ]


def test_bad_requests_cross_ray_as_distinct_errors_and_change_nothing(
    make_directory: DirectoryFactory, database: Database
) -> None:
    showtime_id = create_showtime(database)
    directory = make_directory()
    held, sold = directory.submit_blocking(
        showtime_id,
        [HoldSeats("a1", "alice", ("A1",)), HoldSeats("c1", "carol", ("D1",))],
    )
    assert isinstance(held, HoldResult)
    assert isinstance(sold, HoldResult)
    (booking,) = directory.submit_blocking(
        showtime_id, [ConfirmHold("c2", "carol", sold.hold_id, "pi")]
    )
    directory.submit_blocking(
        showtime_id,
        [CancelBooking("c3", booking.booking_id, "carol")],  # type: ignore[union-attr]
    )
    before = view_of(directory, showtime_id)
    cases = _bad_commands(held.hold_id, booking.booking_id)  # type: ignore[union-attr]

    outcomes = directory.submit_blocking(showtime_id, [command for command, _ in cases])

    assert [type(outcome) for outcome in outcomes] == [
        expected for _, expected in cases
    ]
    assert view_of(directory, showtime_id) == before
