"""Waiting rooms: the room a showtime's staff switch on, and who waits in it."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from persistence.models import WaitingRoomEntryRecord, WaitingRoomRecord


@dataclass(frozen=True, slots=True)
class Room:
    showtime_id: str
    active: bool
    opens_at: datetime
    admit_per_minute: int
    admitted_before_rate: int
    rate_since: datetime

    def admitted_by(self, now: datetime) -> int:
        """How many places have been admitted by `now` (0 before opening)."""
        if now < self.opens_at:
            return 0
        start = max(self.opens_at, self.rate_since)
        minutes = max(0.0, (now - start).total_seconds() / 60)
        return self.admitted_before_rate + int(self.admit_per_minute * minutes)


@dataclass(frozen=True, slots=True)
class Entry:
    entry_id: int
    customer_id: str
    early: bool
    # For early arrivals, the random draw that orders them; for later ones,
    # their place among the later arrivals (1 = first after opening).
    draw: float
    late_sequence: int | None


def _room(record: WaitingRoomRecord) -> Room:
    return Room(
        showtime_id=record.showtime_id,
        active=record.active,
        opens_at=record.opens_at,
        admit_per_minute=record.admit_per_minute,
        admitted_before_rate=record.admitted_before_rate,
        rate_since=record.rate_since,
    )


def active_rooms(session: Session) -> dict[str, Room]:
    """Every active room by showtime id: rooms are switched on for on-sale
    moments, so there are few at a time."""
    records = session.scalars(
        select(WaitingRoomRecord).where(WaitingRoomRecord.active.is_(True))
    )
    return {record.showtime_id: _room(record) for record in records}


def set_room(
    session: Session,
    *,
    showtime_id: str,
    active: bool,
    opens_at: datetime,
    admit_per_minute: int,
    now: datetime,
) -> Room:
    """Create or change a room; a new rate applies from now on, never backwards."""
    record = session.get(WaitingRoomRecord, showtime_id, with_for_update=True)
    if record is None:
        record = WaitingRoomRecord(
            showtime_id=showtime_id,
            active=active,
            opens_at=opens_at,
            admit_per_minute=admit_per_minute,
            admitted_before_rate=0,
            rate_since=opens_at,
            updated_at=now,
        )
        session.add(record)
        session.flush()
        return _room(record)
    current = _room(record)
    if now < current.opens_at:
        # Not open yet: nothing has been admitted, so start afresh.
        record.opens_at = opens_at
        record.admitted_before_rate = 0
        record.rate_since = opens_at
    elif admit_per_minute != current.admit_per_minute:
        record.admitted_before_rate = current.admitted_by(now)
        record.rate_since = now
    record.active = active
    record.admit_per_minute = admit_per_minute
    record.updated_at = now
    session.flush()
    return _room(record)


def _entry_of(
    session: Session, showtime_id: str, customer_id: str
) -> WaitingRoomEntryRecord | None:
    return session.scalar(
        select(WaitingRoomEntryRecord).where(
            WaitingRoomEntryRecord.showtime_id == showtime_id,
            WaitingRoomEntryRecord.customer_id == customer_id,
        )
    )


def join(
    session: Session, *, showtime_id: str, customer_id: str, now: datetime
) -> Entry:
    """The customer's place, taken now or earlier (joining twice changes nothing).

    Early or late is decided against the room's opening as stored, not a copy a
    replica may hold from before staff moved it.
    """
    existing = _entry_of(session, showtime_id, customer_id)
    if existing is None:
        room = session.get(WaitingRoomRecord, showtime_id)
        if room is None:  # pragma: no cover - rooms are never deleted
            raise LookupError(f"no waiting room for showtime {showtime_id}")
        early = now < room.opens_at
        record = WaitingRoomEntryRecord(
            showtime_id=showtime_id,
            customer_id=customer_id,
            joined_at=now,
            early=early,
            draw=random.SystemRandom().random() if early else 0.0,
        )
        try:
            with session.begin_nested():
                session.add(record)
        except IntegrityError:
            # Joined at the same moment from another tab: that place stands.
            existing = _entry_of(session, showtime_id, customer_id)
            if existing is None:  # pragma: no cover - the conflict says it exists
                raise
        else:
            existing = record
    late_sequence = None
    if not existing.early:
        late_sequence = session.scalar(
            select(func.count()).where(
                WaitingRoomEntryRecord.showtime_id == showtime_id,
                WaitingRoomEntryRecord.early.is_(False),
                WaitingRoomEntryRecord.id <= existing.id,
            )
        )
    return Entry(
        entry_id=existing.id,
        customer_id=customer_id,
        early=existing.early,
        draw=existing.draw,
        late_sequence=late_sequence,
    )


def early_draws(session: Session, showtime_id: str) -> list[float]:
    """The draws of everyone who arrived before opening, lowest (first) first."""
    return list(
        session.scalars(
            select(WaitingRoomEntryRecord.draw)
            .where(
                WaitingRoomEntryRecord.showtime_id == showtime_id,
                WaitingRoomEntryRecord.early.is_(True),
            )
            .order_by(WaitingRoomEntryRecord.draw)
        )
    )
