"""Messages in and out of a showtime: commands, the events they cause, results.

All are frozen dataclasses. Commands carry a caller-chosen `request_id`; events
are what the journal records and what a restore replays; results are what a
caller gets back for a command that succeeded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from actors.layout import SeatCategory


@dataclass(frozen=True, slots=True)
class ShowtimeDefinition:
    """What a showtime actor needs to know about its showtime."""

    showtime_id: str
    layout_rows: tuple[str, ...]
    starts_at: datetime
    prices_cents: Mapping[SeatCategory, int]
    currency: str
    cancelled: bool = False


@dataclass(frozen=True, slots=True)
class HoldPolicy:
    hold_ttl_s: float
    max_seats_per_hold: int
    # How long an order may keep its hold while the customer pays; a hold
    # never lasts longer than hold_ttl_s + payment_window_s in all.
    payment_window_s: float = 900.0


# Commands ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HoldSeats:
    """Hold the named `seats`, or `count` best-available seats of `category`.

    A customer has at most one active hold per showtime: a new one replaces the
    old atomically, and the old hold's seats may be part of the new one.
    """

    request_id: str
    customer_id: str
    seats: tuple[str, ...] = ()
    count: int | None = None
    category: SeatCategory = SeatCategory.STANDARD
    kind: Literal["hold_seats"] = "hold_seats"


@dataclass(frozen=True, slots=True)
class ReleaseHold:
    request_id: str
    customer_id: str
    hold_id: str
    kind: Literal["release_hold"] = "release_hold"


@dataclass(frozen=True, slots=True)
class ConfirmHold:
    """Turn a hold into a booking, given the reference of the payment for it."""

    request_id: str
    customer_id: str
    hold_id: str
    payment_reference: str
    kind: Literal["confirm_hold"] = "confirm_hold"


@dataclass(frozen=True, slots=True)
class CancelBooking:
    """Cancel a booking. `customer_id` None means staff acting for anyone."""

    request_id: str
    booking_id: str
    customer_id: str | None
    kind: Literal["cancel_booking"] = "cancel_booking"


@dataclass(frozen=True, slots=True)
class BlockSeats:
    request_id: str
    seats: tuple[str, ...]
    kind: Literal["block_seats"] = "block_seats"


@dataclass(frozen=True, slots=True)
class UnblockSeats:
    request_id: str
    seats: tuple[str, ...]
    kind: Literal["unblock_seats"] = "unblock_seats"


@dataclass(frozen=True, slots=True)
class ExtendHold:
    """Keep a hold alive while its order is paid for (bounded by the policy)."""

    request_id: str
    customer_id: str
    hold_id: str
    kind: Literal["extend_hold"] = "extend_hold"


@dataclass(frozen=True, slots=True)
class CancelShowtime:
    """Close sales for good, release every hold and cancel every booking."""

    request_id: str
    kind: Literal["cancel_showtime"] = "cancel_showtime"


Command = (
    HoldSeats
    | ReleaseHold
    | ConfirmHold
    | CancelBooking
    | BlockSeats
    | UnblockSeats
    | CancelShowtime
    | ExtendHold
)


# Events -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TicketIssued:
    ticket_id: str
    seat: str


@dataclass(frozen=True, slots=True)
class HoldPlaced:
    hold_id: str
    customer_id: str
    seats: tuple[str, ...]
    created_at: datetime
    expires_at: datetime
    amount_cents: int
    replaced_hold_id: str | None = None
    kind: Literal["hold_placed"] = "hold_placed"


@dataclass(frozen=True, slots=True)
class HoldExtended:
    hold_id: str
    expires_at: datetime
    kind: Literal["hold_extended"] = "hold_extended"


@dataclass(frozen=True, slots=True)
class HoldReleased:
    hold_id: str
    released_at: datetime
    kind: Literal["hold_released"] = "hold_released"


@dataclass(frozen=True, slots=True)
class HoldsExpired:
    hold_ids: tuple[str, ...]
    expired_at: datetime
    kind: Literal["holds_expired"] = "holds_expired"


@dataclass(frozen=True, slots=True)
class BookingConfirmed:
    booking_id: str
    hold_id: str
    customer_id: str
    seats: tuple[str, ...]
    payment_reference: str
    amount_cents: int
    tickets: tuple[TicketIssued, ...]
    confirmed_at: datetime
    kind: Literal["booking_confirmed"] = "booking_confirmed"


@dataclass(frozen=True, slots=True)
class BookingCancelled:
    booking_id: str
    cancelled_at: datetime
    kind: Literal["booking_cancelled"] = "booking_cancelled"


@dataclass(frozen=True, slots=True)
class SeatsBlocked:
    seats: tuple[str, ...]
    kind: Literal["seats_blocked"] = "seats_blocked"


@dataclass(frozen=True, slots=True)
class SeatsUnblocked:
    seats: tuple[str, ...]
    kind: Literal["seats_unblocked"] = "seats_unblocked"


@dataclass(frozen=True, slots=True)
class ShowtimeCancelled:
    released_hold_ids: tuple[str, ...]
    cancelled_at: datetime
    cancelled_booking_ids: tuple[str, ...] = ()
    kind: Literal["showtime_cancelled"] = "showtime_cancelled"


Event = (
    HoldPlaced
    | HoldExtended
    | HoldReleased
    | HoldsExpired
    | BookingConfirmed
    | BookingCancelled
    | SeatsBlocked
    | SeatsUnblocked
    | ShowtimeCancelled
)


# Results ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HoldResult:
    hold_id: str
    showtime_id: str
    customer_id: str
    seats: tuple[str, ...]
    expires_at: datetime
    amount_cents: int
    currency: str
    replaced_hold_id: str | None = None
    kind: Literal["hold"] = "hold"


@dataclass(frozen=True, slots=True)
class ReleaseResult:
    hold_id: str
    showtime_id: str
    seats: tuple[str, ...]
    kind: Literal["release"] = "release"


@dataclass(frozen=True, slots=True)
class BookingResult:
    booking_id: str
    hold_id: str
    showtime_id: str
    customer_id: str
    seats: tuple[str, ...]
    tickets: tuple[TicketIssued, ...]
    amount_cents: int
    currency: str
    payment_reference: str
    kind: Literal["booking"] = "booking"


@dataclass(frozen=True, slots=True)
class CancelResult:
    booking_id: str
    showtime_id: str
    seats: tuple[str, ...]
    kind: Literal["cancel"] = "cancel"


@dataclass(frozen=True, slots=True)
class SeatsResult:
    showtime_id: str
    seats: tuple[str, ...]
    kind: Literal["seats"] = "seats"


@dataclass(frozen=True, slots=True)
class ShowtimeCancelResult:
    showtime_id: str
    released_hold_ids: tuple[str, ...]
    cancelled_booking_ids: tuple[str, ...] = ()
    kind: Literal["showtime_cancel"] = "showtime_cancel"


Result = (
    HoldResult
    | ReleaseResult
    | BookingResult
    | CancelResult
    | SeatsResult
    | ShowtimeCancelResult
)


# Reads ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SeatView:
    label: str
    category: SeatCategory
    status: str


@dataclass(frozen=True, slots=True)
class RowView:
    label: str
    seats: tuple[SeatView, ...]


@dataclass(frozen=True, slots=True)
class SeatMapView:
    """The seat map as of `version`, which changes with every change."""

    showtime_id: str
    version: int
    available: int
    rows: tuple[RowView, ...]
    counts: Mapping[str, int] = field(default_factory=dict)
