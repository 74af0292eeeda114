"""Waiting rooms for on-sale moments, with places that cost nothing to poll.

Joining writes one row and hands back a signed *place*: the showtime, the
customer and either the random draw (arrived before opening) or the sequence
number (arrived later). Polling needs no database and no actor: the position
follows from the place, the room's settings (every active room is re-read in
one query at most every `refresh_s`) and, for early arrivals, the sorted draws
of everyone who came early, read once per replica after the room opens.
Customers are admitted at the room's rate: by time t, the first
`admitted_by(t)` positions are in, and a customer in gets an *admission token*
that the hold endpoint asks for while the room is active.
"""

from __future__ import annotations

import base64
import bisect
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from actors.errors import ValidationFailed, WaitingRoomRequired
from persistence import waiting_room_store as store
from serve.http.auth import TicketSigner
from serve.http.single_flight import SingleFlight

T = TypeVar("T")
Transaction = Callable[[Callable[[Session], T]], Awaitable[T]]

# Joins still committing when the room opens are given this long to land
# before the early arrivals' order is read.
EARLY_SETTLE_S = 1.0


@dataclass(frozen=True, slots=True)
class Place:
    showtime_id: str
    customer_id: str
    early: bool
    draw: float
    late_sequence: int | None


@dataclass(frozen=True, slots=True)
class Standing:
    """Where a place stands now. `position` is None while early arrivals are
    still to be drawn (before opening)."""

    position: int | None
    admitted_so_far: int
    estimated_wait_s: float | None
    admitted: bool
    opens_at: datetime


def _encode(payload: dict[str, Any]) -> str:
    raw = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(value: str) -> dict[str, Any]:
    padded = value + "=" * (-len(value) % 4)
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(padded))
    return decoded


class WaitingRooms:
    """One replica's view of every waiting room, and the tokens they issue."""

    def __init__(
        self,
        transaction: Transaction[Any],
        secret: str,
        *,
        refresh_s: float,
        admission_ttl_s: float,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._transaction = transaction
        self._places = TicketSigner(secret, "waiting-room-place")
        self._admissions = TicketSigner(secret, "waiting-room-admission")
        self._refresh_s = refresh_s
        self._admission_ttl = timedelta(seconds=admission_ttl_s)
        self._clock = clock
        # Every active room, as read at a moment (monotonic seconds).
        self._active: tuple[float, dict[str, store.Room]] | None = None
        # Rooms this replica wrote, and when: newer than a read still out.
        self._written: dict[str, tuple[float, store.Room]] = {}
        self._early: dict[str, list[float]] = {}
        self._reading: SingleFlight[str, dict[str, store.Room]] = SingleFlight()

    async def room(self, showtime_id: str) -> store.Room | None:
        """The showtime's room if it is active, at most `refresh_s` old (plus
        one read); None when no room is active for it."""
        active = self._active
        if active is None or time.monotonic() - active[0] >= self._refresh_s:
            # Every hold asks. One read of every active room serves every
            # showtime, and the requests in flight when the copy runs out
            # share it: with fifty showtimes selling, a read per showtime was
            # 13 % of a replica's profile samples.
            rooms = await self._reading.run("active", self._read)
        else:
            rooms = active[1]
        return rooms.get(showtime_id)

    async def _read(self) -> dict[str, store.Room]:
        started = time.monotonic()
        rooms: dict[str, store.Room] = await self._transaction(store.active_rooms)
        for showtime_id, (written_at, room) in list(self._written.items()):
            if written_at < started:
                # The read saw this write, or a later one by another replica.
                del self._written[showtime_id]
            elif room.active:
                rooms[showtime_id] = room
            else:
                rooms.pop(showtime_id, None)
        self._active = (started, rooms)
        return rooms

    async def set_room(
        self,
        showtime_id: str,
        *,
        active: bool,
        opens_at: datetime,
        admit_per_minute: int,
    ) -> store.Room:
        now = self._clock()
        room: store.Room = await self._transaction(
            lambda session: store.set_room(
                session,
                showtime_id=showtime_id,
                active=active,
                opens_at=opens_at,
                admit_per_minute=admit_per_minute,
                now=now,
            )
        )
        self._written[showtime_id] = (time.monotonic(), room)
        if self._active is not None:
            rooms = dict(self._active[1])
            if room.active:
                rooms[showtime_id] = room
            else:
                rooms.pop(showtime_id, None)
            self._active = (self._active[0], rooms)
        return room

    async def join(self, room: store.Room, customer_id: str) -> str:
        """A signed place for the customer (the same one on a second join)."""
        now = self._clock()
        entry = await self._transaction(
            lambda session: store.join(
                session,
                showtime_id=room.showtime_id,
                customer_id=customer_id,
                now=now,
            )
        )
        payload = {
            "s": room.showtime_id,
            "c": customer_id,
            "e": entry.early,
            "d": entry.draw,
            "n": entry.late_sequence,
        }
        return self._places.code_for(_encode(payload))

    def place(self, code: str, showtime_id: str, customer_id: str) -> Place:
        value = self._places.ticket_id_of(code)
        if value is None:
            raise ValidationFailed("This is not a place this waiting room issued")
        try:
            payload = _decode(value)
        except ValueError as exc:  # pragma: no cover - signed by us
            raise ValidationFailed("The place cannot be read") from exc
        if payload["s"] != showtime_id or payload["c"] != customer_id:
            raise ValidationFailed("This place is for another showtime or customer")
        return Place(
            showtime_id=payload["s"],
            customer_id=payload["c"],
            early=payload["e"],
            draw=payload["d"],
            late_sequence=payload["n"],
        )

    async def standing(self, room: store.Room, place: Place) -> Standing:
        now = self._clock()
        admitted = room.admitted_by(now)
        position: int | None = None
        if now >= room.opens_at + timedelta(seconds=EARLY_SETTLE_S):
            draws = await self._early_draws(room.showtime_id)
            if place.early:
                position = bisect.bisect_left(draws, place.draw) + 1
            elif place.late_sequence is not None:
                position = len(draws) + place.late_sequence
        wait_s = None
        if position is not None:
            ahead = max(0, position - admitted)
            wait_s = ahead * 60 / room.admit_per_minute
        return Standing(
            position=position,
            admitted_so_far=admitted,
            estimated_wait_s=wait_s,
            admitted=position is not None and position <= admitted,
            opens_at=room.opens_at,
        )

    async def _early_draws(self, showtime_id: str) -> list[float]:
        # Read once per replica: nobody can arrive early after opening.
        draws = self._early.get(showtime_id)
        if draws is None:
            draws = await self._transaction(
                lambda session: store.early_draws(session, showtime_id)
            )
            self._early[showtime_id] = draws
        return draws

    def admission_token(
        self, showtime_id: str, customer_id: str
    ) -> tuple[str, datetime]:
        expires_at = self._clock() + self._admission_ttl
        payload = {"s": showtime_id, "c": customer_id, "x": int(expires_at.timestamp())}
        return self._admissions.code_for(_encode(payload)), expires_at

    def check_admission(
        self, token: str | None, showtime_id: str, customer_id: str
    ) -> None:
        """Raise `WaitingRoomRequired` unless `token` admits this customer now."""
        if token is None:
            raise WaitingRoomRequired(
                "This showtime's sale runs through a waiting room: join it and "
                "send the admission token it gives you as X-Admission-Token",
                showtime_id=showtime_id,
            )
        value = self._admissions.ticket_id_of(token)
        payload = None if value is None else _decode(value)
        if (
            payload is None
            or payload["s"] != showtime_id
            or payload["c"] != customer_id
        ):
            raise WaitingRoomRequired(
                "This admission token is not valid for this showtime and customer",
                showtime_id=showtime_id,
            )
        if self._clock().timestamp() >= payload["x"]:
            raise WaitingRoomRequired(
                "This admission token has expired; ask the waiting room again",
                showtime_id=showtime_id,
            )
