"""HTTP bodies of the booking application."""

from __future__ import annotations

from datetime import datetime

from pydantic import AwareDatetime, BaseModel, Field, model_validator

from actors.layout import SeatCategory
from serve.users.schemas import Strict


class SeatRead(BaseModel):
    label: str
    category: str
    status: str


class RowRead(BaseModel):
    label: str
    seats: list[SeatRead]


class SeatMapRead(BaseModel):
    showtime_id: str
    version: int
    available: int
    rows: list[RowRead]


class HoldCreate(Strict):
    """Either `seats` by label, or a `count` of best-available seats."""

    seats: list[str] | None = Field(default=None, min_length=1, max_length=100)
    count: int | None = Field(default=None, ge=-1000, le=1000)
    category: SeatCategory = SeatCategory.STANDARD

    @model_validator(mode="after")
    def seats_or_count(self) -> HoldCreate:
        if (self.seats is None) == (self.count is None):
            raise ValueError("give either seats or count")
        return self


class HoldRead(BaseModel):
    hold_id: str
    showtime_id: str
    seats: list[str]
    status: str
    expires_at: datetime
    amount_cents: int
    currency: str


class OrderCreate(Strict):
    hold_id: str = Field(min_length=1, max_length=64)


class PaymentRead(BaseModel):
    provider: str
    payment_intent_id: str | None
    client_secret: str | None


class OrderRead(BaseModel):
    order_id: str
    hold_id: str
    showtime_id: str
    status: str
    amount_cents: int
    currency: str
    booking_id: str | None = None
    failure_code: str | None = None
    payment: PaymentRead


class TicketRead(BaseModel):
    seat: str
    code: str


class BookingRead(BaseModel):
    booking_id: str
    showtime_id: str
    seats: list[str]
    status: str
    amount_cents: int
    tickets: list[TicketRead]


class RefundRead(BaseModel):
    amount_cents: int
    status: str


class CancellationRead(BaseModel):
    booking_id: str
    status: str
    refund: RefundRead


class CheckInCreate(Strict):
    code: str = Field(min_length=1, max_length=200)
    showtime_id: str | None = Field(
        default=None, max_length=64, description="Refuse tickets for other showtimes"
    )


class CheckInRead(BaseModel):
    seat: str
    showtime_id: str
    admitted_at: datetime


class WaitingRoomUpdate(Strict):
    """Staff switch a showtime's waiting room on (or off) for an on-sale moment."""

    active: bool = True
    opens_at: AwareDatetime
    admit_per_minute: int = Field(ge=1, le=1_000_000)


class WaitingRoomRead(BaseModel):
    showtime_id: str
    active: bool
    opens_at: datetime
    admit_per_minute: int
    admitted_so_far: int


class PlaceRead(BaseModel):
    """A customer's place in a waiting room. `position` is null until the room
    opens and the early arrivals have been shuffled."""

    place: str
    showtime_id: str
    opens_at: datetime
    position: int | None
    admitted_so_far: int
    estimated_wait_s: float | None
    admitted: bool
    admission_token: str | None = None
    admission_expires_at: datetime | None = None
