"""SQLAlchemy models for everything the reservation core stores."""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy import Enum as SqlEnum
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

ID_LENGTH = 64

# Stable constraint names keep migrations identical on SQLite and Postgres.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend.

    SQLite has no time zones and hands back naive values; this puts UTC back so
    that Python code only ever compares aware datetimes.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(
        self, value: datetime | None, dialect: Dialect
    ) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(
        self, value: datetime | None, dialect: Dialect
    ) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


JSONDocument = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSONDocument,
    }


def _enum(enum_type: type[enum.Enum]) -> SqlEnum:
    return SqlEnum(
        enum_type,
        native_enum=False,
        create_constraint=True,
        length=32,
        values_callable=lambda members: [member.value for member in members],
        name=enum_type.__name__.lower(),
    )


class HoldStatus(enum.StrEnum):
    ACTIVE = "active"
    RELEASED = "released"
    EXPIRED = "expired"
    CONFIRMED = "confirmed"
    REPLACED = "replaced"


class BookingStatus(enum.StrEnum):
    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"


class UserRecord(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    # Stored lower-cased, so uniqueness ignores case.
    email: Mapped[str] = mapped_column(String(320), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    roles: Mapped[list[str]] = mapped_column(JSONDocument)
    created_at: Mapped[datetime]


class RefreshTokenRecord(Base):
    """Issued refresh tokens by id; a used or revoked one never works again."""

    __tablename__ = "refresh_tokens"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    issued_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    replaced_by: Mapped[str | None] = mapped_column(String(ID_LENGTH))

    __table_args__ = (Index("ix_refresh_tokens_user", "user_id"),)


class ApiKeyRecord(Base):
    """A partner or kiosk key, stored only as a hash of its secret."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    client_kind: Mapped[str] = mapped_column(String(32))
    roles: Mapped[list[str]] = mapped_column(JSONDocument)
    secret_hash: Mapped[str] = mapped_column(String(128), unique=True)
    created_by: Mapped[str] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]
    # Set when rotated: the old key keeps working until then.
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    replaced_by: Mapped[str | None] = mapped_column(String(ID_LENGTH))


class MovieRecord(Base):
    __tablename__ = "movies"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    synopsis: Mapped[str] = mapped_column(Text)
    runtime_min: Mapped[int] = mapped_column(Integer)
    rating: Mapped[str] = mapped_column(String(16))
    genres: Mapped[list[str]] = mapped_column(JSONDocument)
    release_date: Mapped[date | None] = mapped_column(Date)
    poster_url: Mapped[str | None] = mapped_column(String(1000))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    __table_args__ = (Index("ix_movies_title", "title"),)


class CinemaRecord(Base):
    __tablename__ = "cinemas"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    city: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]


class AuditoriumRecord(Base):
    __tablename__ = "auditoriums"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    cinema_id: Mapped[str | None] = mapped_column(ForeignKey("cinemas.id"))
    name: Mapped[str] = mapped_column(String(200))
    layout: Mapped[list[str]] = mapped_column(JSONDocument)
    created_at: Mapped[datetime]


class ShowtimeRecord(Base):
    __tablename__ = "showtimes"
    __table_args__ = (Index("ix_showtimes_starts_at", "starts_at"),)

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    auditorium_id: Mapped[str] = mapped_column(ForeignKey("auditoriums.id"))
    movie_id: Mapped[str | None] = mapped_column(ForeignKey("movies.id"))
    starts_at: Mapped[datetime]
    prices_cents: Mapped[dict[str, Any]]
    currency: Mapped[str] = mapped_column(String(3))
    cancelled_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


class ShowtimeLedgerRecord(Base):
    """The fence for a showtime's writer: one row per showtime.

    Each actor instance that takes over a showtime increments `epoch`; every
    journal write checks both `epoch` and `version`, so an older instance can
    never write again once a newer one has claimed the showtime.
    """

    __tablename__ = "showtime_ledgers"

    showtime_id: Mapped[str] = mapped_column(
        ForeignKey("showtimes.id"), primary_key=True
    )
    epoch: Mapped[int] = mapped_column(Integer, default=0)
    version: Mapped[int] = mapped_column(Integer, default=0)
    snapshot_version: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime]


class ShowtimeEventRecord(Base):
    """The journal: every change to a showtime's seats, in version order."""

    __tablename__ = "showtime_events"

    showtime_id: Mapped[str] = mapped_column(
        ForeignKey("showtimes.id"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]]
    # Set on the event that a client's request caused, so a retry of that
    # request can be answered from here after a restart.
    request_id: Mapped[str | None] = mapped_column(String(128))
    fingerprint: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[dict[str, Any] | None]
    epoch: Mapped[int] = mapped_column(Integer)
    committed_at: Mapped[datetime]

    __table_args__ = (
        Index("ix_showtime_events_request", "showtime_id", "committed_at"),
    )


class ShowtimeSnapshotRecord(Base):
    __tablename__ = "showtime_snapshots"

    showtime_id: Mapped[str] = mapped_column(
        ForeignKey("showtimes.id"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    state: Mapped[dict[str, Any]]
    taken_at: Mapped[datetime]


class HoldRecord(Base):
    """Holds as rows, for queries across showtimes (a customer's holds)."""

    __tablename__ = "holds"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    showtime_id: Mapped[str] = mapped_column(ForeignKey("showtimes.id"))
    customer_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    seats: Mapped[list[str]] = mapped_column(JSONDocument)
    amount_cents: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    status: Mapped[HoldStatus] = mapped_column(_enum(HoldStatus))
    closed_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_holds_customer", "customer_id", "status"),)


class BookingRecord(Base):
    __tablename__ = "bookings"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    showtime_id: Mapped[str] = mapped_column(ForeignKey("showtimes.id"))
    hold_id: Mapped[str] = mapped_column(String(ID_LENGTH), unique=True)
    customer_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    seats: Mapped[list[str]] = mapped_column(JSONDocument)
    payment_reference: Mapped[str] = mapped_column(Text)
    amount_cents: Mapped[int] = mapped_column(Integer)
    status: Mapped[BookingStatus] = mapped_column(_enum(BookingStatus))
    confirmed_at: Mapped[datetime]
    cancelled_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_bookings_customer", "customer_id"),)


class TicketRecord(Base):
    """One admission per seat of a booking.

    The partial unique index is the database's own refusal to sell a seat twice:
    at most one ticket per seat of a showtime is live (not voided) at a time,
    whatever any actor believes.
    """

    __tablename__ = "tickets"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    booking_id: Mapped[str] = mapped_column(ForeignKey("bookings.id"))
    showtime_id: Mapped[str] = mapped_column(ForeignKey("showtimes.id"))
    seat_label: Mapped[str] = mapped_column(String(16))
    issued_at: Mapped[datetime]
    voided_at: Mapped[datetime | None]
    admitted_at: Mapped[datetime | None]

    __table_args__ = (
        Index(
            "uq_tickets_live_seat",
            "showtime_id",
            "seat_label",
            unique=True,
            sqlite_where=text("voided_at IS NULL"),
            postgresql_where=text("voided_at IS NULL"),
        ),
        Index("ix_tickets_booking", "booking_id"),
    )


class OrderStatus(enum.StrEnum):
    AWAITING_PAYMENT = "awaiting_payment"
    CONFIRMED = "confirmed"
    FAILED = "failed"
    REFUNDED = "refunded"


class OrderRecord(Base):
    """A customer's purchase of one hold, and where its payment stands."""

    __tablename__ = "orders"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    showtime_id: Mapped[str] = mapped_column(ForeignKey("showtimes.id"))
    hold_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    amount_cents: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[OrderStatus] = mapped_column(_enum(OrderStatus))
    provider: Mapped[str] = mapped_column(String(32))
    payment_intent_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    client_secret: Mapped[str | None] = mapped_column(String(255))
    booking_id: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    failure_code: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    __table_args__ = (
        Index("ix_orders_customer", "customer_id"),
        # At most one order per hold is still live; a failed one may be retried.
        Index(
            "uq_orders_live_hold",
            "hold_id",
            unique=True,
            sqlite_where=text("status IN ('awaiting_payment', 'confirmed')"),
            postgresql_where=text("status IN ('awaiting_payment', 'confirmed')"),
        ),
    )


class IdempotencyRecord(Base):
    """The first response to a request sent with an `Idempotency-Key`."""

    __tablename__ = "idempotency_records"

    owner_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class LocalPaymentIntentRecord(Base):
    """PaymentIntents of the built-in local provider, shaped like Stripe's."""

    __tablename__ = "local_payment_intents"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    amount: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(32))
    client_secret: Mapped[str] = mapped_column(String(255))
    order_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    idempotency_key: Mapped[str] = mapped_column(String(255), unique=True)
    last_error_code: Mapped[str | None] = mapped_column(String(64))
    amount_refunded: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class PaymentEventRecord(Base):
    """Payment events already handled, by the provider's event id."""

    __tablename__ = "payment_events"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime]


class OutboxEventRecord(Base):
    """Events for notifications, loyalty and analytics, written in the same
    transaction as the change they describe (a transactional outbox)."""

    __tablename__ = "outbox_events"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    published_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_outbox_unpublished", "published_at", "created_at"),)


class HoldAddressRecord(Base):
    """The client address each hold came from, for the per-address seat cap."""

    __tablename__ = "hold_addresses"

    hold_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    client_address: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]

    __table_args__ = (Index("ix_hold_addresses_address", "client_address"),)


class WaitingRoomRecord(Base):
    """A showtime's waiting room, switched on by staff for an on-sale moment.

    Customers are admitted at `admit_per_minute`; how many have been admitted by
    a moment is `admitted_before_rate` plus the rate times the minutes since
    `rate_since`, so that a change of rate never un-admits anyone.
    """

    __tablename__ = "waiting_rooms"

    showtime_id: Mapped[str] = mapped_column(
        ForeignKey("showtimes.id"), primary_key=True
    )
    active: Mapped[bool]
    opens_at: Mapped[datetime]
    admit_per_minute: Mapped[int] = mapped_column(Integer)
    admitted_before_rate: Mapped[int] = mapped_column(Integer)
    rate_since: Mapped[datetime]
    updated_at: Mapped[datetime]


class WaitingRoomEntryRecord(Base):
    """One customer's place in a waiting room.

    Arrivals before the room opens get a random `draw` (their order is decided
    by it, so being first to the page gains nothing); later ones get `sequence`,
    the order they arrived in.
    """

    __tablename__ = "waiting_room_entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    showtime_id: Mapped[str] = mapped_column(ForeignKey("showtimes.id"))
    customer_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    joined_at: Mapped[datetime]
    early: Mapped[bool]
    draw: Mapped[float]

    __table_args__ = (
        UniqueConstraint("showtime_id", "customer_id", name="uq_waiting_room_entry"),
        Index("ix_waiting_room_entries_order", "showtime_id", "early", "draw"),
    )
