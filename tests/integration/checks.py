"""Cross-checks between a showtime's in-memory state and its database rows."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import select

from actors.seat_map import SeatMap
from persistence import showtime_store as store
from persistence.database import Database
from persistence.models import (
    BookingRecord,
    BookingStatus,
    HoldRecord,
    HoldStatus,
    TicketRecord,
)


def assert_database_agrees(database: Database, seat_map: SeatMap) -> None:
    """The rows say exactly what the seat map says, and no seat is sold twice."""
    assert_database_agrees_with(database, seat_map.showtime_id, seat_map.to_snapshot())


def assert_database_agrees_with(
    database: Database, showtime_id: str, state: dict[str, Any]
) -> None:
    """Like `assert_database_agrees`, for a seat map's snapshot data."""
    with database.sessions.begin() as session:
        version = store.ledger_version(session, showtime_id)
        active_holds = {
            row.id: (row.customer_id, tuple(row.seats))
            for row in session.scalars(
                select(HoldRecord).where(
                    HoldRecord.showtime_id == showtime_id,
                    HoldRecord.status == HoldStatus.ACTIVE,
                )
            )
        }
        live_bookings = {
            row.id: (row.customer_id, tuple(row.seats))
            for row in session.scalars(
                select(BookingRecord).where(
                    BookingRecord.showtime_id == showtime_id,
                    BookingRecord.status == BookingStatus.CONFIRMED,
                )
            )
        }
        live_tickets = list(
            session.execute(
                select(TicketRecord.booking_id, TicketRecord.seat_label).where(
                    TicketRecord.showtime_id == showtime_id,
                    TicketRecord.voided_at.is_(None),
                )
            )
        )

    assert version == state["version"]
    assert active_holds == {
        hold["hold_id"]: (hold["customer_id"], tuple(hold["seats"]))
        for hold in state["holds"]
    }
    assert live_bookings == {
        booking["booking_id"]: (booking["customer_id"], tuple(booking["seats"]))
        for booking in state["bookings"]
        if booking["cancelled_at"] is None
    }
    seats_sold = Counter(seat for _, seat in live_tickets)
    assert all(count == 1 for count in seats_sold.values()), seats_sold
    assert {(booking_id, seat) for booking_id, seat in live_tickets} == {
        (booking_id, seat)
        for booking_id, (_, seats) in live_bookings.items()
        for seat in seats
    }
