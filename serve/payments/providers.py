"""Payment providers behind one interface.

The local provider is the embedded default: it keeps PaymentIntents shaped like
Stripe's in the database and settles them with Stripe's test payment methods,
so the whole checkout runs with no network.
"""

from __future__ import annotations

import dataclasses
import enum
import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy.orm import Session
from stripe import (
    APIConnectionError,
    APIError,
    HTTPXClient,
    InvalidRequestError,
    RateLimitError,
    StripeClient,
)

from actors.errors import DependencyUnavailable, PaymentIntentNotFound, ValidationFailed
from config.settings import Settings
from persistence import orders_store
from persistence.models import LocalPaymentIntentRecord
from serve.http.platform import Platform
from serve.payments.breaker import CircuitBreaker

logger = logging.getLogger(__name__)


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


# Failures that mean "Stripe is not answering"; they open the breaker.
_OUTAGE = (APIConnectionError, APIError, RateLimitError)


class StripeProvider:
    """PaymentIntents at Stripe, through the official SDK.

    Payments are captured automatically: the seats are pinned for the payment
    window before the customer pays, so a payment whose hold is gone is rare
    (a cancelled showtime, an abandoned payment) and is refunded; manual
    capture would cost a second call on every sale and authorisations can lapse.
    Every call carries an idempotency key derived from the order, has a
    timeout and bounded retries (the SDK's, with backoff), and passes a circuit
    breaker so that an outage fails fast.
    """

    name = "stripe"

    def __init__(self, settings: Settings) -> None:
        if settings.stripe_secret_key is None:
            raise ValueError("StripeProvider needs MARQUEE_STRIPE_SECRET_KEY")
        base_addresses = (
            {"api": settings.stripe_api_base} if settings.stripe_api_base else None
        )
        self._client = StripeClient(
            settings.stripe_secret_key.get_secret_value(),
            base_addresses=base_addresses,  # type: ignore[arg-type]
            http_client=HTTPXClient(timeout=settings.stripe_timeout_s),
            max_network_retries=settings.stripe_max_retries,
        )
        self.breaker = CircuitBreaker("stripe")

    async def create_intent(
        self, *, order_id: str, amount: int, currency: str
    ) -> Intent:
        intent = await self._call(
            lambda: self._client.v1.payment_intents.create_async(
                params={
                    "amount": amount,
                    "currency": currency.lower(),
                    "metadata": {"order_id": order_id},
                    "automatic_payment_methods": {"enabled": True},
                },
                options={"idempotency_key": f"marquee-intent-{order_id}"},
            )
        )
        return _stripe_intent(intent)

    async def retrieve(self, intent_id: str) -> Intent:
        try:
            intent = await self._call(
                lambda: self._client.v1.payment_intents.retrieve_async(intent_id)
            )
        except InvalidRequestError as exc:
            raise PaymentIntentNotFound(
                "No such payment intent", payment_intent_id=intent_id
            ) from exc
        return _stripe_intent(intent)

    async def refund(self, intent_id: str) -> Intent:
        refund = await self._call(
            lambda: self._client.v1.refunds.create_async(
                params={"payment_intent": intent_id},
                options={"idempotency_key": f"marquee-refund-{intent_id}"},
            )
        )
        intent = await self.retrieve(intent_id)
        return dataclasses.replace(intent, amount_refunded=int(refund.amount))

    async def _call(self, work: Any) -> Any:
        try:
            return await self.breaker.call(work, failures=_OUTAGE)
        except _OUTAGE as exc:
            logger.warning("Stripe call failed: %r", exc.__cause__ or exc)
            raise DependencyUnavailable(
                "Stripe did not answer; nothing was charged by this request",
                dependency="stripe",
            ) from exc


def _stripe_intent(intent: Any) -> Intent:
    status = str(intent.status)
    known = {member.value for member in IntentStatus}
    error = getattr(intent, "last_payment_error", None)
    metadata = intent.metadata.to_dict() if getattr(intent, "metadata", None) else {}
    return Intent(
        intent_id=str(intent.id),
        client_secret=str(intent.client_secret or ""),
        status=IntentStatus(status)
        if status in known
        else IntentStatus.REQUIRES_PAYMENT_METHOD,
        amount=int(intent.amount),
        currency=str(intent.currency),
        order_id=str(metadata.get("order_id", "")),
        last_error_code=str(error.code) if error else None,
    )


def make_provider(platform: Platform) -> StripeProvider | LocalProvider:
    """Stripe when a secret key is configured, else the local provider."""
    if platform.settings.stripe_secret_key is not None:
        return StripeProvider(platform.settings)
    return LocalProvider(platform)
