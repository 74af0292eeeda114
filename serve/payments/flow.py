"""The one path from "payment succeeded" to a booking, whatever the provider.

Every event is checked against the PaymentIntent's real state before anything
happens, and every step is idempotent (the actor confirms with a request id
derived from the order; orders change state conditionally), so duplicates and
events out of order have one effect each.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

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
        seen = await self._platform.transaction(
            lambda session: orders_store.payment_event_seen(session, event_id)
        )
        if seen:
            return
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
            await self._mark_confirmed(
                order, outcome.booking_id, outcome.seats, outcome.amount_cents
            )
        elif isinstance(outcome, _HOLD_GONE):
            # The actor may have forgotten an old confirmation (request ids are
            # remembered for a while only); the booking row never forgets, and
            # a booked customer must never be refunded by mistake.
            booked = await self._platform.transaction(
                lambda session: orders_store.booking_for_hold(session, order.hold_id)
            )
            if booked is not None and booked.status == "confirmed":
                await self._mark_confirmed(
                    order, booked.booking_id, booked.seats, booked.amount_cents
                )
            else:
                await self._refund(order, intent, reason=outcome.code)
        elif isinstance(outcome, MarqueeError):
            # Retryable (the actor or database is unavailable): the provider
            # resends the event, and the order still awaits payment.
            raise outcome

    async def _mark_confirmed(
        self,
        order: OrderRecord,
        booking_id: str,
        seats: tuple[str, ...],
        amount_cents: int,
    ) -> None:
        now = datetime.now(UTC)

        def confirm(session: Session) -> bool:
            current = orders_store.order(session, order.id)
            if current is None or current.status is OrderStatus.CONFIRMED:
                return False
            current.status = OrderStatus.CONFIRMED
            current.booking_id = booking_id
            current.failure_code = None
            current.updated_at = now
            payload = {
                "order_id": order.id,
                "booking_id": booking_id,
                "customer_id": order.customer_id,
                "showtime_id": order.showtime_id,
                "seats": list(seats),
                "amount_cents": amount_cents,
                "currency": order.currency,
            }
            orders_store.add_outbox_event(session, "payment_received", payload, now)
            orders_store.add_outbox_event(session, "booking_confirmed", payload, now)
            return True

        if await self._platform.transaction(confirm):
            logger.info(
                "order %s confirmed as booking %s",
                order.id,
                booking_id,
                extra={"booking_id": booking_id},
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

    async def recover(self, *, idle_s: float) -> int:
        """Finish orders whose payment outcome never reached them.

        A crash between the charge and the booking, or between the booking and
        the order's update, leaves an order awaiting payment; so does a lost
        event. Each is settled against the PaymentIntent's real state: paid
        ones are booked (or refunded), and an order that never got an intent
        is failed, since nothing was charged. Returns how many were settled.
        """
        cutoff = datetime.now(UTC) - timedelta(seconds=idle_s)
        stale = await self._platform.transaction(
            lambda session: orders_store.stale_awaiting_orders(session, cutoff)
        )
        settled = 0
        for order in stale:
            if order.payment_intent_id is None:
                await self._fail_unpaid(order.id)
                settled += 1
                continue
            try:
                intent = await self._provider.retrieve(order.payment_intent_id)
                if intent.status is IntentStatus.SUCCEEDED:
                    await self._settle_paid(order, intent)
                    settled += 1
            except MarqueeError:
                # One order's trouble (its provider away, say) must not stop
                # the sweep from settling the others; it is retried next time.
                logger.warning("recovery of order %s failed", order.id, exc_info=True)
        if settled:
            logger.warning("recovery sweep settled %d orders", settled)
        return settled

    async def _fail_unpaid(self, order_id: str) -> None:
        now = datetime.now(UTC)
        await self._platform.transaction(
            lambda session: orders_store.fail_order(
                session, order_id, "no_payment_intent", now
            )
        )

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
