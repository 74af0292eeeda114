"""The showtime engine against real SQLite and Postgres, without Ray."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from actors import errors
from actors.engine import EngineConfig, Outcome, ShowtimeEngine
from actors.messages import (
    BlockSeats,
    BookingResult,
    CancelBooking,
    ConfirmHold,
    HoldResult,
    HoldSeats,
    ReleaseHold,
)
from persistence import showtime_store as store
from persistence.database import Database
from persistence.models import HoldRecord, HoldStatus, TicketRecord
from tests.factories import create_showtime, engine_config
from tests.integration.checks import assert_database_agrees
from tests.integration.faults import journal_writes_fail


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


EngineFactory = Callable[..., ShowtimeEngine]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def showtime_id(database: Database, clock: Clock) -> str:
    return create_showtime(database, now=clock.now)


@pytest.fixture
def new_engine(database: Database, showtime_id: str, clock: Clock) -> EngineFactory:
    def build(config: EngineConfig | None = None) -> ShowtimeEngine:
        engine = ShowtimeEngine(
            database, showtime_id, config or engine_config(), clock=clock
        )
        engine.activate()
        return engine

    return build


def run(awaitable: Coroutine[Any, Any, list[Outcome]]) -> list[Outcome]:
    return asyncio.run(awaitable)


async def submit_one(engine: ShowtimeEngine, command: object) -> object:
    (outcome,) = await engine.submit([command])  # type: ignore[list-item]
    return outcome


def test_a_restore_from_the_database_equals_the_state_before_it(
    new_engine: EngineFactory, database: Database
) -> None:
    engine = new_engine(engine_config(snapshot_every_events=3))

    async def scenario() -> None:
        first = await submit_one(engine, HoldSeats("r1", "alice", ("A1", "A2")))
        assert isinstance(first, HoldResult)
        await submit_one(engine, HoldSeats("r2", "bob", count=3))
        booking = await submit_one(
            engine, ConfirmHold("r3", "alice", first.hold_id, "pi_1")
        )
        assert isinstance(booking, BookingResult)
        await submit_one(engine, BlockSeats("r4", ("D1",)))
        await submit_one(engine, HoldSeats("r5", "carol", ("C1",)))
        await submit_one(engine, CancelBooking("r6", booking.booking_id, None))
        await submit_one(engine, HoldSeats("r7", "dave", ("A1",)))

    asyncio.run(scenario())
    restored = new_engine()

    assert restored.committed().to_snapshot() == engine.committed().to_snapshot()
    assert restored.view() == engine.view()
    assert restored.epoch == engine.epoch + 1
    assert_database_agrees(database, restored.committed())


def test_snapshots_grow_further_apart_as_closed_holds_pile_up(
    new_engine: EngineFactory, database: Database, showtime_id: str
) -> None:
    engine = new_engine(engine_config(snapshot_every_events=2))
    taken: list[int] = []

    async def hold_and_release_twenty_times() -> None:
        for n in range(20):
            held = await submit_one(engine, HoldSeats(f"h{n}", f"c{n}", count=1))
            assert isinstance(held, HoldResult)
            await submit_one(engine, ReleaseHold(f"r{n}", f"c{n}", held.hold_id))
            with database.sessions.begin() as session:
                latest = store.latest_snapshot(session, showtime_id)
            if latest is not None and latest[0] not in taken:
                taken.append(latest[0])

    asyncio.run(hold_and_release_twenty_times())

    # Every 2 events at first; then once per as many events as the map holds
    # records, and every release leaves one more closed hold behind.
    assert taken == [2, 4, 8, 16, 32]


def test_request_ids_are_forgotten_once_older_than_the_retention(
    new_engine: EngineFactory, clock: Clock
) -> None:
    engine = new_engine(engine_config(request_id_retention_s=60))

    async def scenario() -> tuple[int, object, object]:
        await submit_one(engine, HoldSeats("old", "alice", ("A1",)))
        clock.advance(30)
        kept = await submit_one(engine, HoldSeats("recent", "bob", ("A2",)))
        clock.advance(40)
        forgotten = engine.forget_old_request_ids()
        return (
            forgotten,
            kept,
            await submit_one(engine, HoldSeats("recent", "bob", ("A2",))),
        )

    forgotten, kept, retried = asyncio.run(scenario())

    assert forgotten == 1
    assert retried == kept
    assert engine.forget_old_request_ids() == 0


def test_concurrent_requests_share_commits(
    new_engine: EngineFactory, database: Database
) -> None:
    engine = new_engine()
    labels = [seat.label for seat in engine.committed().layout.seats]

    async def everyone_at_once() -> list[object]:
        return await asyncio.gather(
            *(
                submit_one(engine, HoldSeats(f"r{n}", f"customer-{n}", (label,)))
                for n, label in enumerate(labels)
            )
        )

    outcomes = asyncio.run(everyone_at_once())

    assert all(isinstance(outcome, HoldResult) for outcome in outcomes)
    assert engine.committed().version == len(labels)
    # One commit in flight at a time, the rest waiting in the next group.
    assert engine.commits < len(labels) / 4
    assert_database_agrees(database, engine.committed())


def test_a_failed_commit_fails_the_request_and_changes_nothing(
    new_engine: EngineFactory, database: Database, showtime_id: str
) -> None:
    engine = new_engine()
    run(engine.submit([HoldSeats("r1", "alice", ("A1",))]))
    before = engine.committed().to_snapshot()
    view_before = engine.view()

    with journal_writes_fail(database, showtime_id):
        failed = run(
            engine.submit(
                [HoldSeats("r2", "bob", ("A2",)), HoldSeats("r3", "carol", ("A3",))]
            )
        )

    assert [type(outcome) for outcome in failed] == [errors.CommitFailed] * 2
    assert engine.committed().to_snapshot() == before
    assert engine.view() == view_before
    assert engine.committed().seat_status("A2").value == "free"
    assert_database_agrees(database, engine.committed())
    # Nothing was made, so the same request succeeds once the database is back.
    (retried,) = run(engine.submit([HoldSeats("r2", "bob", ("A2",))]))
    assert isinstance(retried, HoldResult)
    assert_database_agrees(database, engine.committed())


def test_a_repeated_request_id_gets_the_first_answer_even_after_a_restart(
    new_engine: EngineFactory,
) -> None:
    engine = new_engine()
    command = HoldSeats("same-request", "alice", count=2)
    (first,) = run(engine.submit([command]))

    (again,) = run(engine.submit([command]))
    restarted = new_engine()
    (after_restart,) = run(restarted.submit([command]))

    assert again == first
    assert after_restart == first
    assert restarted.committed().version == 1


def test_one_request_id_for_two_different_commands_is_a_conflict(
    new_engine: EngineFactory,
) -> None:
    engine = new_engine()
    run(engine.submit([HoldSeats("reused", "alice", ("A1",))]))

    (outcome,) = run(engine.submit([HoldSeats("reused", "alice", ("A2",))]))

    assert isinstance(outcome, errors.RequestIdConflict)
    assert engine.committed().version == 1


def test_a_stale_instance_can_never_overwrite_newer_state(
    new_engine: EngineFactory, database: Database
) -> None:
    stale = new_engine()
    current = new_engine()
    (won,) = run(current.submit([HoldSeats("r1", "alice", ("A1",))]))

    (refused,) = run(stale.submit([HoldSeats("r2", "mallory", ("A1",))]))

    assert isinstance(won, HoldResult)
    assert isinstance(refused, errors.ShowtimeUnavailable)
    assert_database_agrees(database, current.committed())
    # The refused instance reloaded the newer state instead of keeping its own.
    assert stale.committed().to_snapshot() == current.committed().to_snapshot()


def test_expired_holds_are_released_and_recorded_without_a_request(
    new_engine: EngineFactory, database: Database, clock: Clock
) -> None:
    engine = new_engine(engine_config(hold_ttl_s=60))
    (held,) = run(engine.submit([HoldSeats("r1", "alice", ("A1",))]))
    assert isinstance(held, HoldResult)
    clock.advance(60)

    async def sweep() -> bool:
        expired = engine.expire_holds()
        await engine.drain()
        return expired

    assert asyncio.run(sweep()) is True
    with database.sessions.begin() as session:
        status = session.scalar(
            select(HoldRecord.status).where(HoldRecord.id == held.hold_id)
        )
    assert status is HoldStatus.EXPIRED
    (late,) = run(engine.submit([ConfirmHold("r2", "alice", held.hold_id, "pi")]))
    assert isinstance(late, errors.HoldExpired)
    assert_database_agrees(database, engine.committed())


def test_releases_and_cancellations_reach_the_tables(
    new_engine: EngineFactory, database: Database
) -> None:
    engine = new_engine()
    held, other = run(
        engine.submit(
            [HoldSeats("r1", "alice", ("B1", "B2")), HoldSeats("r2", "bob", ("C1",))]
        )
    )
    assert isinstance(held, HoldResult)
    assert isinstance(other, HoldResult)
    (booking,) = run(engine.submit([ConfirmHold("r3", "alice", held.hold_id, "pi")]))
    assert isinstance(booking, BookingResult)
    assert_database_agrees(database, engine.committed())

    run(
        engine.submit(
            [
                CancelBooking("r4", booking.booking_id, "alice"),
                ReleaseHold("r5", "bob", other.hold_id),
            ]
        )
    )

    assert engine.committed().counts()["free"] == 32  # type: ignore[index]
    assert_database_agrees(database, engine.committed())


def test_the_database_refuses_a_second_live_ticket_for_a_seat(
    new_engine: EngineFactory, database: Database, showtime_id: str
) -> None:
    engine = new_engine()
    (held,) = run(engine.submit([HoldSeats("r1", "alice", ("A1",))]))
    assert isinstance(held, HoldResult)
    (booking,) = run(engine.submit([ConfirmHold("r2", "alice", held.hold_id, "pi")]))
    assert isinstance(booking, BookingResult)

    with pytest.raises(IntegrityError), database.sessions.begin() as session:
        session.execute(
            insert(TicketRecord).values(
                id="forged-ticket",
                booking_id=booking.booking_id,
                showtime_id=showtime_id,
                seat_label="A1",
                issued_at=datetime.now(UTC),
                voided_at=None,
            )
        )


def test_an_unknown_showtime_is_reported_as_such(database: Database) -> None:
    engine = ShowtimeEngine(database, "no-such-showtime", engine_config())

    with pytest.raises(errors.ShowtimeNotFound):
        engine.activate()
