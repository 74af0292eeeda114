"""The one path from "payment succeeded" to a booking, whatever the provider.

Every event is checked against the PaymentIntent's real state before anything
happens, and every step is idempotent (the actor confirms with a request id
derived from the order; orders change state conditionally), so duplicates and
events out of order have one effect each.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from actors.directory import ShowtimeDirectory
from actors.errors import (
    HoldAlreadyConfirmed,
    HoldExpired,
    HoldNotFound,
    MarqueeError,
    OrderNotFound,
    SalesClosed,
)
from actors.messages import BookingResult, ConfirmHold
from persistence import orders_store
from persistence.models import OrderRecord, OrderStatus
from serve.http.platform import Platform
from serve.payments.providers import Intent, IntentStatus, PaymentProvider

logger = logging.getLogger(__name__)

PAYMENT_SUCCEEDED = "payment_intent.succeeded"
PAYMENT_FAILED = "payment_intent.payment_failed"
# The hold is gone for good: a paid customer gets their money back.
_HOLD_GONE = (HoldExpired, HoldNotFound, SalesClosed, HoldAlreadyConfirmed)


class CheckoutFlow:
    def __init__(
        self,
        platform: Platform,
        directory: ShowtimeDirectory,
        provider: PaymentProvider,
    ) -> None:
        self._platform = platform
        self._directory = directory
        self._provider = provider

    @property
    def provider(self) -> PaymentProvider:
        return self._provider

    async def handle_event(self, event_id: str, kind: str, intent_id: str) -> None:
        """Act on a provider event; a repeat of a handled event does nothing."""
        intent = await self._provider.retrieve(intent_id)
        order = await self._platform.transaction(
            lambda session: orders_store.order_for_intent(session, intent_id)
        )
        if order is None:
            raise OrderNotFound(
                "No order for this payment intent", payment_intent_id=intent_id
            )

        if intent.status is IntentStatus.SUCCEEDED:
            await self._settle_paid(order, intent)
        elif kind == PAYMENT_FAILED:
            await self._mark_failed(order, intent)

        # Recorded last: an event whose handling failed is handled again when
        # the provider resends it. The steps above are safe to repeat.
        now = datetime.now(UTC)
        await self._platform.transaction(
            lambda session: orders_store.record_payment_event(
                session, event_id=event_id, kind=kind, now=now
            )
        )

    async def _settle_paid(self, order: OrderRecord, intent: Intent) -> None:
        if order.status in (OrderStatus.CONFIRMED, OrderStatus.REFUNDED):
            return
        command = ConfirmHold(
            request_id=f"confirm:{order.id}",
            customer_id=order.customer_id,
            hold_id=order.hold_id,
            payment_reference=intent.intent_id,
        )
        (outcome,) = await self._directory.submit(order.showtime_id, [command])
        if isinstance(outcome, BookingResult):
            await self._mark_confirmed(order, intent, outcome)
        elif isinstance(outcome, _HOLD_GONE):
            await self._refund(order, intent, reason=outcome.code)
        elif isinstance(outcome, MarqueeError):
            # Retryable (the actor or database is unavailable): the provider
            # resends the event, and the order still awaits payment.
            raise outcome

    async def _mark_confirmed(
        self, order: OrderRecord, intent: Intent, booking: BookingResult
    ) -> None:
        now = datetime.now(UTC)

        def confirm(session: Session) -> bool:
            current = orders_store.order(session, order.id)
            if current is None or current.status is OrderStatus.CONFIRMED:
                return False
            current.status = OrderStatus.CONFIRMED
            current.booking_id = booking.booking_id
            current.failure_code = None
            current.updated_at = now
            payload = {
                "order_id": order.id,
                "booking_id": booking.booking_id,
                "customer_id": order.customer_id,
                "showtime_id": order.showtime_id,
                "seats": list(booking.seats),
                "amount_cents": booking.amount_cents,
                "currency": booking.currency,
            }
            orders_store.add_outbox_event(session, "payment_received", payload, now)
            orders_store.add_outbox_event(session, "booking_confirmed", payload, now)
            return True

        if await self._platform.transaction(confirm):
            logger.info(
                "order %s confirmed as booking %s",
                order.id,
                booking.booking_id,
                extra={"booking_id": booking.booking_id},
            )

    async def _mark_failed(self, order: OrderRecord, intent: Intent) -> None:
        now = datetime.now(UTC)

        def fail(session: Session) -> None:
            current = orders_store.order(session, order.id)
            if current is not None and current.status is OrderStatus.AWAITING_PAYMENT:
                current.status = OrderStatus.FAILED
                current.failure_code = intent.last_error_code or "payment_failed"
                current.updated_at = now

        await self._platform.transaction(fail)

    async def refund_cancelled_booking(self, booking_id: str) -> Refund:
        """Refund the order behind a cancelled booking, once."""
        order = await self._platform.transaction(
            lambda session: orders_store.order_for_booking(session, booking_id)
        )
        refundable = (OrderStatus.CONFIRMED, OrderStatus.REFUNDED)
        if order is None or order.payment_intent_id is None:
            return Refund(amount_cents=0, status="none")
        if order.status not in refundable:
            return Refund(amount_cents=0, status="none")
        if order.status is OrderStatus.CONFIRMED:
            intent = await self._provider.retrieve(order.payment_intent_id)
            await self._refund(
                order, intent, reason="booking_cancelled", booking_id=booking_id
            )
        # Marquee refunds in full, so a refunded order's refund is its amount.
        return Refund(amount_cents=order.amount_cents, status="succeeded")

    async def _refund(
        self,
        order: OrderRecord,
        intent: Intent,
        *,
        reason: str,
        booking_id: str | None = None,
    ) -> None:
        refunded = await self._provider.refund(intent.intent_id)
        now = datetime.now(UTC)

        def record(session: Session) -> None:
            current = orders_store.order(session, order.id)
            if current is None or current.status is OrderStatus.REFUNDED:
                return
            current.status = OrderStatus.REFUNDED
            current.failure_code = reason
            current.updated_at = now
            if booking_id is not None:
                orders_store.add_outbox_event(
                    session,
                    "booking_cancelled",
                    {
                        "order_id": order.id,
                        "booking_id": booking_id,
                        "customer_id": order.customer_id,
                        "showtime_id": order.showtime_id,
                    },
                    now,
                )
            orders_store.add_outbox_event(
                session,
                "refund_issued",
                {
                    "order_id": order.id,
                    "customer_id": order.customer_id,
                    "amount_cents": refunded.amount_refunded,
                    "currency": order.currency,
                    "reason": reason,
                },
                now,
            )

        await self._platform.transaction(record)
        logger.warning(
            "order %s paid but its hold was gone (%s); refunded", order.id, reason
        )


@dataclass(frozen=True, slots=True)
class Refund:
    amount_cents: int
    status: str
