"""Payment providers behind one interface.

The local provider is the embedded default: it keeps PaymentIntents shaped like
Stripe's in the database and settles them with Stripe's test payment methods,
so the whole checkout runs with no network.
"""

from __future__ import annotations

import enum
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from sqlalchemy.orm import Session

from actors.errors import PaymentIntentNotFound, ValidationFailed
from persistence import orders_store
from persistence.models import LocalPaymentIntentRecord
from serve.http.platform import Platform


class IntentStatus(enum.StrEnum):
    """The PaymentIntent states Marquee acts on (Stripe's names)."""

    REQUIRES_PAYMENT_METHOD = "requires_payment_method"
    SUCCEEDED = "succeeded"
    CANCELED = "canceled"


@dataclass(frozen=True, slots=True)
class Intent:
    intent_id: str
    client_secret: str
    status: IntentStatus
    amount: int
    currency: str
    order_id: str
    last_error_code: str | None = None
    amount_refunded: int = 0


class PaymentProvider(Protocol):
    name: str

    async def create_intent(
        self, *, order_id: str, amount: int, currency: str
    ) -> Intent: ...

    async def retrieve(self, intent_id: str) -> Intent: ...

    async def refund(self, intent_id: str) -> Intent: ...


# Stripe's test payment methods and what they do.
LOCAL_OUTCOMES: dict[str, str | None] = {
    "pm_card_visa": None,
    "pm_card_mastercard": None,
    "pm_card_chargeDeclined": "card_declined",
    "pm_card_insufficientFunds": "insufficient_funds",
    "pm_card_chargeDeclinedExpiredCard": "expired_card",
}


def _intent(record: LocalPaymentIntentRecord) -> Intent:
    return Intent(
        intent_id=record.id,
        client_secret=record.client_secret,
        status=IntentStatus(record.status),
        amount=record.amount,
        currency=record.currency,
        order_id=record.order_id,
        last_error_code=record.last_error_code,
        amount_refunded=record.amount_refunded,
    )


class LocalProvider:
    """PaymentIntents in the database, settled through the confirm endpoint."""

    name = "local"

    def __init__(self, platform: Platform) -> None:
        self._platform = platform

    async def create_intent(
        self, *, order_id: str, amount: int, currency: str
    ) -> Intent:
        now = datetime.now(UTC)

        def create(session: Session) -> Intent:
            # The order id is the idempotency key, as it is with Stripe.
            existing = orders_store.local_intent_by_key(session, order_id)
            if existing is not None:
                return _intent(existing)
            intent_id = f"pi_local_{secrets.token_hex(12)}"
            record = LocalPaymentIntentRecord(
                id=intent_id,
                amount=amount,
                currency=currency.lower(),
                status=IntentStatus.REQUIRES_PAYMENT_METHOD.value,
                client_secret=f"{intent_id}_secret_{secrets.token_urlsafe(16)}",
                order_id=order_id,
                idempotency_key=order_id,
                last_error_code=None,
                amount_refunded=0,
                created_at=now,
                updated_at=now,
            )
            orders_store.add_local_intent(session, record)
            return _intent(record)

        return await self._platform.transaction(create)

    async def retrieve(self, intent_id: str) -> Intent:
        record = await self._platform.transaction(
            lambda session: orders_store.local_intent(session, intent_id)
        )
        if record is None:
            raise PaymentIntentNotFound(
                "No such payment intent", payment_intent_id=intent_id
            )
        return _intent(record)

    async def confirm(self, intent_id: str, payment_method: str) -> Intent:
        """Play the customer's browser confirming the intent with a card."""
        if payment_method not in LOCAL_OUTCOMES:
            raise ValidationFailed(
                "Use one of Stripe's test payment methods: "
                + ", ".join(sorted(LOCAL_OUTCOMES)),
                payment_method=payment_method,
            )
        decline_code = LOCAL_OUTCOMES[payment_method]
        now = datetime.now(UTC)

        def settle(session: Session) -> Intent | None:
            record = orders_store.local_intent(session, intent_id)
            if record is None:
                return None
            # Like Stripe: a succeeded intent stays succeeded; a declined one
            # may be confirmed again with another card.
            if record.status == IntentStatus.REQUIRES_PAYMENT_METHOD.value:
                if decline_code is None:
                    record.status = IntentStatus.SUCCEEDED.value
                    record.last_error_code = None
                else:
                    record.last_error_code = decline_code
                record.updated_at = now
            return _intent(record)

        intent = await self._platform.transaction(settle)
        if intent is None:
            raise PaymentIntentNotFound(
                "No such payment intent", payment_intent_id=intent_id
            )
        return intent

    async def refund(self, intent_id: str) -> Intent:
        now = datetime.now(UTC)

        def refund(session: Session) -> Intent | None:
            record = orders_store.local_intent(session, intent_id)
            if record is None:
                return None
            if record.status == IntentStatus.SUCCEEDED.value:
                record.amount_refunded = record.amount
                record.updated_at = now
            return _intent(record)

        intent = await self._platform.transaction(refund)
        if intent is None:
            raise PaymentIntentNotFound(
                "No such payment intent", payment_intent_id=intent_id
            )
        return intent
