"""The caps' query: seats held now, by customer and by client address."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from persistence import showtime_store as store
from persistence.database import AsyncReader, Database
from persistence.models import HoldRecord, HoldStatus
from tests.factories import create_showtime


def add_hold(
    database: Database,
    showtime_id: str,
    customer_id: str,
    seats: list[str],
    *,
    expires_at: datetime,
    status: HoldStatus = HoldStatus.ACTIVE,
    address: str | None = None,
) -> str:
    hold_id = f"{showtime_id}~{customer_id}-{len(seats)}-{status.value}"
    with database.sessions.begin() as session:
        session.add(
            HoldRecord(
                id=hold_id,
                showtime_id=showtime_id,
                customer_id=customer_id,
                seats=seats,
                amount_cents=1000 * len(seats),
                created_at=expires_at - timedelta(minutes=8),
                expires_at=expires_at,
                status=status,
                closed_at=None,
            )
        )
        if address is not None:
            session.flush()
            store.record_hold_addresses(session, [(hold_id, address)], expires_at)
    return hold_id


def test_only_live_holds_count_by_customer_and_by_address(database: Database) -> None:
    # The database is shared with other tests: names of this test's own.
    run = uuid.uuid4().hex[:8]
    alice, bob, carol = (f"{name}-{run}" for name in ("alice", "bob", "carol"))
    address = f"10.{run[:2]}.{run[2:4]}.{run[4:6]}"
    now = datetime.now(UTC)
    first = create_showtime(database, now=now)
    second = create_showtime(database, now=now)
    later = now + timedelta(minutes=5)
    add_hold(database, first, alice, ["A1", "A2"], expires_at=later, address=address)
    add_hold(database, second, bob, ["B1"], expires_at=later, address=address)
    add_hold(database, second, alice, ["C1"], expires_at=now - timedelta(seconds=1))
    add_hold(
        database, first, carol, ["D1"], expires_at=later, status=HoldStatus.RELEASED
    )

    with database.sessions.begin() as session:
        by_customer = store.held_seats(
            session, customer_ids=[alice, carol], client_addresses=[], now=now
        )
        by_both = store.held_seats(
            session, customer_ids=[alice], client_addresses=[address], now=now
        )

    assert [(h.customer_id, h.seats, h.client_address) for h in by_customer] == [
        (alice, 2, None)
    ]
    assert sorted((h.customer_id, h.seats, h.client_address) for h in by_both) == [
        (alice, 2, address),
        (bob, 1, address),
    ]


def test_the_awaited_query_counts_what_the_session_query_counts(
    postgres_url: str,
) -> None:
    database = Database(postgres_url, pool_size=1)
    run = uuid.uuid4().hex[:8]
    alice, bob = f"alice-{run}", f"bob-{run}"
    address = f"10.{run[:2]}.{run[2:4]}.{run[4:6]}"
    now = datetime.now(UTC)
    later = now + timedelta(minutes=5)
    first = create_showtime(database, now=now)
    second = create_showtime(database, now=now)
    add_hold(database, first, alice, ["A1", "A2"], expires_at=later, address=address)
    add_hold(database, second, bob, ["B1"], expires_at=later, address=address)
    add_hold(database, second, alice, ["C1"], expires_at=now - timedelta(seconds=1))
    reader = AsyncReader(postgres_url)

    def counted(held: list[store.HeldSeats]) -> list[tuple[str, int, str | None]]:
        return sorted((h.customer_id, h.seats, h.client_address) for h in held)

    async def awaited(customers: list[str], addresses: list[str]) -> list[Any]:
        try:
            return await reader.run(
                lambda connection: store.held_seats_async(
                    connection,
                    customer_ids=customers,
                    client_addresses=addresses,
                    now=now,
                )
            )
        finally:
            await reader.close()

    for customers, addresses in (
        ([alice, bob], []),
        ([alice], [address]),
        ([], [address]),
    ):
        with database.sessions.begin() as session:
            expected = store.held_seats(
                session, customer_ids=customers, client_addresses=addresses, now=now
            )
        assert counted(asyncio.run(awaited(customers, addresses))) == counted(expected)
    database.dispose()
