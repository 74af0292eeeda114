from __future__ import annotations

from datetime import timedelta

import pytest

from actors import errors
from actors.errors import MarqueeError
from actors.layout import SeatCategory
from actors.messages import (
    BlockSeats,
    BookingResult,
    CancelBooking,
    CancelShowtime,
    ConfirmHold,
    ExtendHold,
    HoldResult,
    HoldSeats,
    ReleaseHold,
    ShowtimeCancelResult,
    UnblockSeats,
)
from actors.seat_map import SeatMap, SeatStatus
from tests.factories import NOW, seat_map


def hold(
    seats: SeatMap,
    customer: str = "alice",
    *labels: str,
    count: int | None = None,
    category: SeatCategory = SeatCategory.STANDARD,
    at: timedelta = timedelta(0),
) -> HoldResult:
    command = HoldSeats(
        request_id=f"r-{customer}-{seats.version}",
        customer_id=customer,
        seats=labels,
        count=count,
        category=category,
    )
    outcome = seats.handle(command, NOW + at).outcome
    assert isinstance(outcome, HoldResult), outcome
    return outcome


def rejection(
    seats: SeatMap, command: object, at: timedelta = timedelta(0)
) -> MarqueeError:
    version = seats.version
    snapshot = seats.to_snapshot()

    decision = seats.handle(command, NOW + at)  # type: ignore[arg-type]

    assert isinstance(decision.outcome, MarqueeError), decision.outcome
    assert seats.version == version
    assert seats.to_snapshot() == snapshot
    return decision.outcome


def confirm(seats: SeatMap, hold_id: str, customer: str = "alice") -> BookingResult:
    outcome = seats.handle(
        ConfirmHold(f"c-{hold_id}", customer, hold_id, "pi_123"), NOW
    ).outcome
    assert isinstance(outcome, BookingResult), outcome
    return outcome


def test_named_seats_are_held_and_priced_by_category() -> None:
    seats = seat_map()

    result = hold(seats, "alice", "A1", "D1")

    assert result.seats == ("A1", "D1")
    assert result.amount_cents == 1200 + 1800
    assert result.expires_at == NOW + timedelta(seconds=480)
    assert seats.seat_status("A1") is SeatStatus.HELD
    assert seats.view().available == 32 - 2


def test_a_seat_held_by_one_customer_is_unavailable_to_another() -> None:
    seats = seat_map()
    hold(seats, "alice", "B2")

    error = rejection(seats, HoldSeats("r2", "bob", seats=("B1", "B2")))

    assert isinstance(error, errors.SeatUnavailable)
    assert error.ids["seats"] == ["B2"]


def test_a_new_hold_replaces_the_customers_old_one_and_may_reuse_its_seats() -> None:
    seats = seat_map()
    first = hold(seats, "alice", "A1", "A2")

    second = hold(seats, "alice", "A2", "A3")

    assert second.replaced_hold_id == first.hold_id
    assert seats.hold(first.hold_id) is None
    assert seats.seat_status("A1") is SeatStatus.FREE
    assert [h.hold_id for h in seats.holds()] == [second.hold_id]


def test_a_failed_replacement_keeps_the_old_hold() -> None:
    seats = seat_map()
    first = hold(seats, "alice", "A1")
    hold(seats, "bob", "A2")

    rejection(seats, HoldSeats("r3", "alice", seats=("A2",)))

    assert seats.hold(first.hold_id) is not None
    assert seats.seat_status("A1") is SeatStatus.HELD


def test_best_available_is_centred_about_two_thirds_back() -> None:
    seats = seat_map(["SSSSSSS"] * 7)

    result = hold(seats, count=3)

    # Row E is two thirds of the way back from A to G; C3-C5 are central.
    assert result.seats == ("E3", "E4", "E5")


def test_best_available_keeps_a_party_side_by_side_within_one_block() -> None:
    seats = seat_map(["SS.SS", "SS.SSS"])

    result = hold(seats, count=3)

    assert result.seats == ("B3", "B4", "B5")


def test_best_available_never_strands_a_single_seat_when_it_can_avoid_it() -> None:
    # A1 is taken. The centred pair A3-A4 would leave A2 alone between taken
    # seats, so the next best pair that strands nobody wins.
    seats = seat_map(["SSSSSS"])
    hold(seats, "early", "A1")

    result = hold(seats, "party", count=2)

    assert result.seats == ("A2", "A3")


def test_best_available_does_not_leave_one_seat_against_an_aisle() -> None:
    # A3-A4 and A4-A5 are equally central; A3-A4 would leave A5 alone against
    # the aisle.
    seats = seat_map(["SSSSS.S"])

    result = hold(seats, count=2)

    assert result.seats == ("A4", "A5")


def test_best_available_strands_a_seat_only_when_nothing_else_exists() -> None:
    seats = seat_map(["SSS"])

    result = hold(seats, count=2)

    assert result.seats in {("A1", "A2"), ("A2", "A3")}


def test_best_available_counts_only_the_requested_category() -> None:
    seats = seat_map(["SSSS", "PPSS"])

    result = hold(seats, count=2, category=SeatCategory.PREMIUM)

    assert result.seats == ("B1", "B2")
    assert result.amount_cents == 2 * 1800


def test_best_available_reports_when_no_party_fits_together() -> None:
    seats = seat_map(["SS.SS"])

    error = rejection(seats, HoldSeats("r", "alice", count=3))

    assert isinstance(error, errors.NotEnoughSeats)


def test_holds_expire_after_their_ttl_and_their_seats_return_to_sale() -> None:
    seats = seat_map(hold_ttl_s=60)
    first = hold(seats, "alice", "A1")

    result = hold(seats, "bob", "A1", at=timedelta(seconds=60))

    assert result.seats == ("A1",)
    assert seats.closed_hold(first.hold_id) is not None


def test_a_hold_is_confirmed_into_a_booking_with_one_ticket_per_seat() -> None:
    seats = seat_map()
    held = hold(seats, "alice", "C1", "C2")

    booking = confirm(seats, held.hold_id)

    assert [ticket.seat for ticket in booking.tickets] == ["C1", "C2"]
    assert len({ticket.ticket_id for ticket in booking.tickets}) == 2
    assert seats.seat_status("C1") is SeatStatus.SOLD
    assert seats.hold_for_customer("alice") is None


def test_cancelling_a_booking_returns_its_seats_to_sale() -> None:
    seats = seat_map()
    booking = confirm(seats, hold(seats, "alice", "C1").hold_id)

    seats.handle(CancelBooking("x", booking.booking_id, "alice"), NOW)

    assert seats.seat_status("C1") is SeatStatus.FREE
    assert hold(seats, "bob", "C1").seats == ("C1",)


def test_blocked_seats_are_neither_held_nor_offered_until_unblocked() -> None:
    seats = seat_map(["SSS"])
    seats.handle(BlockSeats("b", ("A1", "A2")), NOW)

    assert isinstance(
        rejection(seats, HoldSeats("r", "alice", seats=("A1",))),
        errors.SeatUnavailable,
    )
    assert hold(seats, "alice", count=1).seats == ("A3",)
    seats.handle(UnblockSeats("u", ("A1",)), NOW)
    assert seats.seat_status("A1") is SeatStatus.FREE


def test_every_change_moves_the_version() -> None:
    seats = seat_map()
    versions = [seats.version]

    held = hold(seats, "alice", "A1")
    versions.append(seats.version)
    seats.handle(ReleaseHold("rel", "alice", held.hold_id), NOW)
    versions.append(seats.version)

    assert versions == [0, 1, 2]
    assert seats.view().version == 2


def _hold_then(seats: SeatMap, then: str) -> str:
    held = hold(seats, "alice", "A1")
    if then == "confirm":
        confirm(seats, held.hold_id)
    elif then == "release":
        seats.handle(ReleaseHold("rel", "alice", held.hold_id), NOW)
    return held.hold_id


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (HoldSeats("r", "alice", seats=("Z9",)), errors.UnknownSeat),
        (HoldSeats("r", "alice", seats=("A1", "A1")), errors.DuplicateSeat),
        (HoldSeats("r", "alice", count=0), errors.InvalidSeatCount),
        (HoldSeats("r", "alice", count=11), errors.SeatLimitExceeded),
        (
            HoldSeats(
                "r",
                "alice",
                seats=(*(f"A{n}" for n in range(1, 9)), "B1", "B2", "B3"),
            ),
            errors.SeatLimitExceeded,
        ),
        (HoldSeats("r", "alice"), errors.InvalidSeatCount),
        (HoldSeats("r", "alice", seats=("A1",), count=1), errors.InvalidSeatCount),
        (ReleaseHold("r", "alice", "no-such-hold"), errors.HoldNotFound),
        (ConfirmHold("r", "alice", "no-such-hold", "pi"), errors.HoldNotFound),
        (CancelBooking("r", "no-such-booking", "alice"), errors.BookingNotFound),
        (UnblockSeats("r", ("A1",)), errors.SeatNotBlocked),
        (BlockSeats("r", ()), errors.InvalidSeatCount),
    ],
)
def test_bad_requests_get_distinct_errors_and_change_nothing(
    command: object, expected: type[MarqueeError]
) -> None:
    seats = seat_map()

    error = rejection(seats, command)

    assert type(error) is expected
    assert error.code == expected.code


def test_every_error_class_has_its_own_code() -> None:
    codes = [
        value.code
        for value in vars(errors).values()
        if isinstance(value, type) and issubclass(value, MarqueeError)
    ]

    assert len(codes) == len(set(codes))


def test_confirming_an_expired_hold_is_hold_expired() -> None:
    seats = seat_map(hold_ttl_s=60)
    held = hold(seats, "alice", "A1")
    seats.expire_holds(NOW + timedelta(seconds=60))

    error = rejection(
        seats,
        ConfirmHold("c", "alice", held.hold_id, "pi"),
        at=timedelta(seconds=61),
    )

    assert isinstance(error, errors.HoldExpired)
    assert error.ids["hold_id"] == held.hold_id


def test_cancelling_twice_is_booking_already_cancelled() -> None:
    seats = seat_map()
    booking = confirm(seats, hold(seats, "alice", "A1").hold_id)
    seats.handle(CancelBooking("x1", booking.booking_id, "alice"), NOW)

    error = rejection(seats, CancelBooking("x2", booking.booking_id, "alice"))

    assert isinstance(error, errors.BookingAlreadyCancelled)


def test_confirming_twice_is_hold_already_confirmed() -> None:
    seats = seat_map()
    held = hold(seats, "alice", "A1")
    booking = confirm(seats, held.hold_id)

    error = rejection(seats, ConfirmHold("again", "alice", held.hold_id, "pi"))

    assert isinstance(error, errors.HoldAlreadyConfirmed)
    assert error.ids["booking_id"] == booking.booking_id


@pytest.mark.parametrize("then", ["keep", "confirm", "release"])
def test_another_customers_hold_is_not_found_never_theirs(then: str) -> None:
    seats = seat_map()
    hold_id = _hold_then(seats, then)

    for command in (
        ReleaseHold("m1", "mallory", hold_id),
        ConfirmHold("m2", "mallory", hold_id, "pi"),
    ):
        assert isinstance(rejection(seats, command), errors.HoldNotFound)


def test_another_customers_booking_is_not_found() -> None:
    seats = seat_map()
    booking = confirm(seats, hold(seats, "alice", "A1").hold_id)

    error = rejection(seats, CancelBooking("m", booking.booking_id, "mallory"))

    assert isinstance(error, errors.BookingNotFound)


@pytest.mark.parametrize("cancelled", [False, True])
def test_holds_after_sales_close_are_refused(cancelled: bool) -> None:
    seats = seat_map(starts_at=NOW + timedelta(minutes=5), cancelled=cancelled)
    at = timedelta(0) if cancelled else timedelta(minutes=5)

    error = rejection(seats, HoldSeats("r", "alice", count=1), at=at)

    assert isinstance(error, errors.SalesClosed)


def test_a_hold_cannot_be_confirmed_once_the_showtime_has_started() -> None:
    seats = seat_map(starts_at=NOW + timedelta(minutes=5))
    held = hold(seats, "alice", "A1")

    error = rejection(
        seats,
        ConfirmHold("c", "alice", held.hold_id, "pi"),
        at=timedelta(minutes=5),
    )

    assert isinstance(error, errors.SalesClosed)


def test_a_snapshot_restores_an_equal_map() -> None:
    seats = seat_map()
    booking = confirm(seats, hold(seats, "alice", "A1", "A2").hold_id)
    hold(seats, "bob", count=3)
    seats.handle(BlockSeats("b", ("D4",)), NOW)
    seats.handle(CancelBooking("x", booking.booking_id, None), NOW)

    restored = SeatMap.from_snapshot(
        seats.definition, seats.policy, seats.to_snapshot()
    )

    restored.check_invariants()
    assert restored.to_snapshot() == seats.to_snapshot()
    assert restored.view() == seats.view()


def test_cancelling_the_showtime_frees_every_seat_and_closes_sales_for_good() -> None:
    seats = seat_map()
    held = hold(seats, "alice", "A1")
    booking = confirm(seats, hold(seats, "bob", "B1").hold_id, "bob")

    outcome = seats.handle(CancelShowtime("cancel"), NOW).outcome

    assert isinstance(outcome, ShowtimeCancelResult)
    assert outcome.released_hold_ids == (held.hold_id,)
    assert outcome.cancelled_booking_ids == (booking.booking_id,)
    assert seats.seat_status("A1") is SeatStatus.FREE
    assert seats.seat_status("B1") is SeatStatus.FREE
    cancelled = seats.booking(booking.booking_id)
    assert cancelled is not None
    assert cancelled.cancelled_at == NOW
    assert isinstance(
        rejection(seats, HoldSeats("late", "carol", count=1)), errors.SalesClosed
    )
    restored = SeatMap.from_snapshot(
        seats.definition, seats.policy, seats.to_snapshot()
    )
    assert restored.cancelled


def test_an_order_extends_its_hold_but_never_past_the_payment_window() -> None:
    seats = seat_map(hold_ttl_s=60)
    held = hold(seats, "alice", "A1")

    first = seats.handle(ExtendHold("e1", "alice", held.hold_id), NOW).outcome
    later = seats.handle(
        ExtendHold("e2", "alice", held.hold_id), NOW + timedelta(minutes=14)
    ).outcome

    assert isinstance(first, HoldResult)
    assert isinstance(later, HoldResult)
    assert first.expires_at == NOW + timedelta(seconds=900)
    # Created at NOW with a 60 s TTL: at most NOW + 60 s + 900 s, however often.
    assert later.expires_at == NOW + timedelta(seconds=960)
    assert isinstance(
        rejection(seats, ExtendHold("e3", "mallory", held.hold_id)), errors.HoldNotFound
    )
