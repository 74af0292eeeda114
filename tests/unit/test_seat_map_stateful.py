"""Random holds, releases, confirms, cancels, blocks and clock jumps against a
plain model of who has which seat."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    rule,
)

from actors import errors
from actors.codec import decode_event, encode_event
from actors.layout import SeatCategory
from actors.messages import (
    BlockSeats,
    BookingResult,
    CancelBooking,
    Command,
    ConfirmHold,
    Event,
    HoldResult,
    HoldSeats,
    ReleaseHold,
    UnblockSeats,
)
from actors.seat_map import SeatMap, SeatStatus
from tests.factories import NOW, seat_map

LAYOUT = ("SSS.SSS", "SSSSSS.", "PP.PP")
TTL_S = 300
MAX_SEATS = 4
CUSTOMERS = st.sampled_from(["ann", "ben", "cat", "dan"])


@dataclass
class ModelHold:
    customer: str
    seats: frozenset[str]
    expires_at: datetime


@dataclass
class Model:
    holds: dict[str, ModelHold] = field(default_factory=dict)
    bookings: dict[str, tuple[str, frozenset[str], bool]] = field(default_factory=dict)
    blocked: set[str] = field(default_factory=set)

    def owner_of(self, seat: str) -> str | None:
        for hold_id, hold in self.holds.items():
            if seat in hold.seats:
                return hold_id
        for booking_id, (_, seats, cancelled) in self.bookings.items():
            if seat in seats and not cancelled:
                return booking_id
        return "blocked" if seat in self.blocked else None

    def hold_of(self, customer: str) -> str | None:
        return next(
            (hold_id for hold_id, h in self.holds.items() if h.customer == customer),
            None,
        )

    def expire(self, now: datetime) -> None:
        for hold_id in [h for h, hold in self.holds.items() if hold.expires_at <= now]:
            del self.holds[hold_id]


class SeatMapMachine(RuleBasedStateMachine):
    holds = Bundle("holds")
    bookings = Bundle("bookings")

    def __init__(self) -> None:
        super().__init__()
        self.seats = seat_map(LAYOUT, hold_ttl_s=TTL_S, max_seats_per_hold=MAX_SEATS)
        self.labels = [seat.label for seat in self.seats.layout.seats]
        self.model = Model()
        self.now = NOW
        self.journal: list[Event] = []
        self.requests = 0

    def _run(self, command: Command) -> object:
        self.model.expire(self.now)
        decision = self.seats.handle(command, self.now)
        self.journal.extend(decision.events)
        return decision.outcome

    def _request_id(self) -> str:
        self.requests += 1
        return f"r{self.requests}"

    @rule(target=holds, customer=CUSTOMERS, data=st.data())
    def hold_named(self, customer: str, data: st.DataObject) -> str:
        wanted = data.draw(
            st.lists(st.sampled_from(self.labels), min_size=1, max_size=5, unique=True)
        )
        outcome = self._run(HoldSeats(self._request_id(), customer, tuple(wanted)))
        own = self.model.hold_of(customer)
        taken = [
            seat for seat in wanted if self.model.owner_of(seat) not in (None, own)
        ]
        if len(wanted) > MAX_SEATS:
            assert isinstance(outcome, errors.SeatLimitExceeded)
        elif taken:
            assert isinstance(outcome, errors.SeatUnavailable)
            assert set(outcome.ids["seats"]) == set(taken)
        else:
            assert isinstance(outcome, HoldResult)
            self._record_hold(customer, outcome)
            return outcome.hold_id
        return "rejected"

    @rule(
        target=holds,
        customer=CUSTOMERS,
        count=st.integers(min_value=1, max_value=MAX_SEATS),
        category=st.sampled_from([SeatCategory.STANDARD, SeatCategory.PREMIUM]),
    )
    def hold_best(self, customer: str, count: int, category: SeatCategory) -> str:
        outcome = self._run(
            HoldSeats(self._request_id(), customer, count=count, category=category)
        )
        if isinstance(outcome, errors.NotEnoughSeats):
            assert not self._model_has_run(customer, count, category)
            return "rejected"
        assert isinstance(outcome, HoldResult), outcome
        chosen = [self.seats.layout.seat_by_label()[s] for s in outcome.seats]
        assert len({seat.block_id for seat in chosen}) == 1
        assert [seat.number for seat in chosen] == list(
            range(chosen[0].number, chosen[0].number + count)
        )
        assert {seat.category for seat in chosen} == {category}
        own = self.model.hold_of(customer)
        assert all(self.model.owner_of(s) in (None, own) for s in outcome.seats)
        self._record_hold(customer, outcome)
        return outcome.hold_id

    def _model_has_run(self, customer: str, count: int, category: SeatCategory) -> bool:
        own = self.model.hold_of(customer)
        seats = self.seats.layout.seats
        for block in self.seats.layout.blocks:
            run = 0
            for index in block:
                seat = seats[index]
                free = self.model.owner_of(seat.label) in (None, own)
                run = run + 1 if free and seat.category is category else 0
                if run >= count:
                    return True
        return False

    def _record_hold(self, customer: str, outcome: HoldResult) -> None:
        own = self.model.hold_of(customer)
        if own is not None:
            assert outcome.replaced_hold_id == own
            del self.model.holds[own]
        self.model.holds[outcome.hold_id] = ModelHold(
            customer, frozenset(outcome.seats), outcome.expires_at
        )

    @rule(hold_id=consumes(holds), customer=CUSTOMERS)
    def release(self, hold_id: str, customer: str) -> None:
        outcome = self._run(ReleaseHold(self._request_id(), customer, hold_id))
        hold = self.model.holds.get(hold_id)
        if hold is not None and hold.customer == customer:
            assert outcome.kind == "release"  # type: ignore[attr-defined]
            del self.model.holds[hold_id]
        else:
            assert isinstance(outcome, errors.HoldNotFound | errors.HoldExpired), (
                outcome
            )

    @rule(target=bookings, hold_id=consumes(holds), same_customer=st.booleans())
    def confirm(self, hold_id: str, same_customer: bool) -> str:
        hold = self.model.holds.get(hold_id)
        customer = hold.customer if hold and same_customer else "eve"
        outcome = self._run(ConfirmHold(self._request_id(), customer, hold_id, "pi"))
        hold = self.model.holds.get(hold_id)
        if hold is None or hold.customer != customer:
            assert isinstance(outcome, errors.HoldNotFound | errors.HoldExpired), (
                outcome
            )
            return "rejected"
        assert isinstance(outcome, BookingResult), outcome
        assert set(outcome.seats) == hold.seats
        del self.model.holds[hold_id]
        self.model.bookings[outcome.booking_id] = (customer, hold.seats, False)
        return outcome.booking_id

    @rule(booking_id=bookings, by_staff=st.booleans())
    def cancel(self, booking_id: str, by_staff: bool) -> None:
        known = self.model.bookings.get(booking_id)
        customer = None if by_staff or known is None else known[0]
        outcome = self._run(CancelBooking(self._request_id(), booking_id, customer))
        if known is None:
            assert isinstance(outcome, errors.BookingNotFound)
        elif known[2]:
            assert isinstance(outcome, errors.BookingAlreadyCancelled)
        else:
            assert outcome.kind == "cancel"  # type: ignore[attr-defined]
            self.model.bookings[booking_id] = (known[0], known[1], True)

    @rule(data=st.data(), unblock=st.booleans())
    def block_or_unblock(self, data: st.DataObject, unblock: bool) -> None:
        wanted = data.draw(
            st.lists(st.sampled_from(self.labels), min_size=1, max_size=3, unique=True)
        )
        if unblock:
            outcome = self._run(UnblockSeats(self._request_id(), tuple(wanted)))
            if all(seat in self.model.blocked for seat in wanted):
                self.model.blocked.difference_update(wanted)
            else:
                assert isinstance(outcome, errors.SeatNotBlocked)
            return
        outcome = self._run(BlockSeats(self._request_id(), tuple(wanted)))
        if all(self.model.owner_of(seat) is None for seat in wanted):
            self.model.blocked.update(wanted)
        else:
            assert isinstance(outcome, errors.SeatUnavailable)

    @rule(seconds=st.sampled_from([1, 60, TTL_S - 1, TTL_S, 2 * TTL_S]))
    def advance_clock(self, seconds: int) -> None:
        self.now += timedelta(seconds=seconds)
        # What the actor's timer does: expired holds go back on sale unasked.
        expired = self.seats.expire_holds(self.now)
        if expired is not None:
            self.journal.append(expired)
        self.model.expire(self.now)

    @invariant()
    def seats_agree_with_the_model(self) -> None:
        self.seats.check_invariants()
        for label in self.labels:
            owner = self.model.owner_of(label)
            status = self.seats.seat_status(label)
            if owner is None:
                assert status is SeatStatus.FREE, label
            elif owner == "blocked":
                assert status is SeatStatus.BLOCKED, label
            elif owner in self.model.holds:
                assert status is SeatStatus.HELD, label
            else:
                assert status is SeatStatus.SOLD, label

    @invariant()
    def counts_add_up(self) -> None:
        counts = self.seats.counts()
        assert sum(counts.values()) == len(self.labels)
        assert counts[SeatStatus.HELD] == sum(
            len(hold.seats) for hold in self.model.holds.values()
        )

    @invariant()
    def no_hold_outlives_its_expiry(self) -> None:
        assert all(hold.expires_at > self.now for hold in self.seats.holds())

    @invariant()
    def restores_equal_the_running_map(self) -> None:
        expected = self.seats.to_snapshot()
        from_snapshot = SeatMap.from_snapshot(
            self.seats.definition, self.seats.policy, expected
        )
        replayed = SeatMap(self.seats.definition, self.seats.policy)
        for event in self.journal:
            replayed.apply(decode_event(encode_event(event)))
        assert from_snapshot.to_snapshot() == expected
        assert replayed.to_snapshot() == expected
        assert replayed.version == self.seats.version


SeatMapMachine.TestCase.settings = settings(
    max_examples=60, stateful_step_count=40, deadline=None
)
test_seat_map_state_machine = SeatMapMachine.TestCase
