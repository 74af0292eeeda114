"""Repository for checkout: orders, idempotency records, local payment intents,
handled payment events, the outbox, and bookings as customers read them.

Functions take a `Session` inside the caller's transaction and never commit.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from persistence.models import (
    BookingRecord,
    IdempotencyRecord,
    LocalPaymentIntentRecord,
    OrderRecord,
    OrderStatus,
    OutboxEventRecord,
    PaymentEventRecord,
    TicketRecord,
)


class AlreadyExists(Exception):
    """A row with that key exists (a concurrent request won the race)."""


def claim_idempotency_key(
    session: Session,
    *,
    owner_id: str,
    key: str,
    fingerprint: str,
    now: datetime,
    expires_at: datetime,
) -> IdempotencyRecord | None:
    """Record the key as in progress; return the existing record if there is one."""
    existing = session.get(IdempotencyRecord, (owner_id, key))
    if existing is not None and existing.expires_at > now:
        return existing
    if existing is not None:
        session.delete(existing)
        session.flush()
    try:
        with session.begin_nested():
            session.add(
                IdempotencyRecord(
                    owner_id=owner_id,
                    key=key,
                    fingerprint=fingerprint,
                    response_status=None,
                    response_body=None,
                    created_at=now,
                    expires_at=expires_at,
                )
            )
    except IntegrityError as exc:
        raise AlreadyExists(key) from exc
    return None


def idempotency_record(
    session: Session, owner_id: str, key: str
) -> IdempotencyRecord | None:
    return session.get(IdempotencyRecord, (owner_id, key))


def finish_idempotency_key(
    session: Session, *, owner_id: str, key: str, status: int, body: dict[str, Any]
) -> None:
    record = session.get(IdempotencyRecord, (owner_id, key))
    if record is not None:
        record.response_status = status
        record.response_body = body


def forget_idempotency_key(session: Session, *, owner_id: str, key: str) -> None:
    """Drop an in-progress key whose request failed, so that it may be retried."""
    record = session.get(IdempotencyRecord, (owner_id, key))
    if record is not None and record.response_status is None:
        session.delete(record)


def live_order_for_hold(session: Session, hold_id: str) -> OrderRecord | None:
    return session.scalar(
        select(OrderRecord).where(
            OrderRecord.hold_id == hold_id,
            OrderRecord.status.in_(
                [OrderStatus.AWAITING_PAYMENT, OrderStatus.CONFIRMED]
            ),
        )
    )


def add_order(session: Session, order: OrderRecord) -> None:
    """Add an order; raises `AlreadyExists` if the hold has a live order."""
    try:
        with session.begin_nested():
            session.add(order)
    except IntegrityError as exc:
        raise AlreadyExists(order.hold_id) from exc


def fail_order(session: Session, order_id: str, reason: str, now: datetime) -> None:
    """Mark an order that still awaits payment as failed."""
    current = session.get(OrderRecord, order_id)
    if current is not None and current.status is OrderStatus.AWAITING_PAYMENT:
        current.status = OrderStatus.FAILED
        current.failure_code = reason
        current.updated_at = now


def order(session: Session, order_id: str) -> OrderRecord | None:
    return session.get(OrderRecord, order_id)


def order_for_intent(session: Session, intent_id: str) -> OrderRecord | None:
    return session.scalar(
        select(OrderRecord).where(OrderRecord.payment_intent_id == intent_id)
    )


def add_local_intent(session: Session, intent: LocalPaymentIntentRecord) -> None:
    session.add(intent)


def local_intent(session: Session, intent_id: str) -> LocalPaymentIntentRecord | None:
    return session.get(LocalPaymentIntentRecord, intent_id)


def local_intent_by_key(
    session: Session, idempotency_key: str
) -> LocalPaymentIntentRecord | None:
    return session.scalar(
        select(LocalPaymentIntentRecord).where(
            LocalPaymentIntentRecord.idempotency_key == idempotency_key
        )
    )


def payment_event_seen(session: Session, event_id: str) -> bool:
    return session.get(PaymentEventRecord, event_id) is not None


def record_payment_event(
    session: Session, *, event_id: str, kind: str, now: datetime
) -> bool:
    """True the first time an event id is seen; False for a duplicate."""
    try:
        with session.begin_nested():
            session.add(PaymentEventRecord(id=event_id, kind=kind, received_at=now))
    except IntegrityError:
        return False
    return True


def add_outbox_event(
    session: Session, kind: str, payload: dict[str, Any], now: datetime
) -> None:
    session.add(
        OutboxEventRecord(
            id=uuid.uuid4().hex,
            kind=kind,
            payload=payload,
            created_at=now,
            published_at=None,
        )
    )


def outbox_events(session: Session, kind: str | None = None) -> list[OutboxEventRecord]:
    query = select(OutboxEventRecord).order_by(OutboxEventRecord.created_at)
    if kind is not None:
        query = query.where(OutboxEventRecord.kind == kind)
    return list(session.scalars(query))


@dataclass(frozen=True, slots=True)
class BookingView:
    booking_id: str
    showtime_id: str
    customer_id: str
    seats: tuple[str, ...]
    status: str
    amount_cents: int
    tickets: tuple[tuple[str, str], ...]


def _booking_view(session: Session, booking: BookingRecord) -> BookingView:
    tickets = session.execute(
        select(TicketRecord.id, TicketRecord.seat_label)
        .where(TicketRecord.booking_id == booking.id)
        .order_by(TicketRecord.seat_label)
    )
    return BookingView(
        booking_id=booking.id,
        showtime_id=booking.showtime_id,
        customer_id=booking.customer_id,
        seats=tuple(booking.seats),
        status=booking.status.value,
        amount_cents=booking.amount_cents,
        tickets=tuple((row.id, row.seat_label) for row in tickets),
    )


def booking_view(session: Session, booking_id: str) -> BookingView | None:
    booking = session.get(BookingRecord, booking_id)
    return None if booking is None else _booking_view(session, booking)


def bookings_of(session: Session, customer_id: str) -> list[BookingView]:
    bookings = session.scalars(
        select(BookingRecord)
        .where(BookingRecord.customer_id == customer_id)
        .order_by(BookingRecord.confirmed_at)
    )
    return [_booking_view(session, booking) for booking in bookings]


@dataclass(frozen=True, slots=True)
class Admission:
    ticket_id: str
    showtime_id: str
    seat: str
    admitted_at: datetime | None
    voided: bool
    first_time: bool


def admit(
    session: Session, ticket_id: str, now: datetime, showtime_id: str | None
) -> Admission | None:
    """Admit a live ticket of `showtime_id` (any, if None) once.

    None for an unknown ticket. A ticket of another showtime, or a cancelled
    one, is returned unchanged, so refusing it at one door cannot spend it. A
    conditional update, so two scanners at two doors cannot both admit it.
    """
    ticket = session.get(TicketRecord, ticket_id)
    if ticket is None:
        return None
    if showtime_id is not None and ticket.showtime_id != showtime_id:
        return _admission(ticket, first_time=False)
    admitted = session.execute(
        update(TicketRecord)
        .where(
            TicketRecord.id == ticket_id,
            TicketRecord.admitted_at.is_(None),
            TicketRecord.voided_at.is_(None),
        )
        .values(admitted_at=now)
    )
    first_time = bool(admitted.rowcount == 1)  # type: ignore[attr-defined]
    session.refresh(ticket)
    return _admission(ticket, first_time=first_time)


def _admission(ticket: TicketRecord, *, first_time: bool) -> Admission:
    return Admission(
        ticket_id=ticket.id,
        showtime_id=ticket.showtime_id,
        seat=ticket.seat_label,
        admitted_at=ticket.admitted_at,
        voided=ticket.voided_at is not None,
        first_time=first_time,
    )


def order_for_booking(session: Session, booking_id: str) -> OrderRecord | None:
    return session.scalar(
        select(OrderRecord).where(OrderRecord.booking_id == booking_id)
    )


def confirmed_bookings_of_showtime(session: Session, showtime_id: str) -> list[str]:
    """Booking ids of a showtime's orders that are paid and not yet refunded."""
    rows = session.scalars(
        select(OrderRecord.booking_id).where(
            OrderRecord.showtime_id == showtime_id,
            OrderRecord.status == OrderStatus.CONFIRMED,
            OrderRecord.booking_id.is_not(None),
        )
    )
    return [booking_id for booking_id in rows if booking_id is not None]


def stale_awaiting_orders(
    session: Session, updated_before: datetime
) -> list[OrderRecord]:
    """Orders still awaiting payment that nothing has touched for a while."""
    return list(
        session.scalars(
            select(OrderRecord)
            .where(
                OrderRecord.status == OrderStatus.AWAITING_PAYMENT,
                OrderRecord.updated_at < updated_before,
            )
            .order_by(OrderRecord.updated_at)
            .limit(500)
        )
    )


def booking_for_hold(session: Session, hold_id: str) -> BookingView | None:
    booking = session.scalar(
        select(BookingRecord).where(BookingRecord.hold_id == hold_id)
    )
    return None if booking is None else _booking_view(session, booking)
