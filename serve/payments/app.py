"""The payments application at `/api/v1/payments`.

With no Stripe key configured, the local provider is active and
`POST /intents/{id}/confirm` plays the customer's browser confirming with
Stripe; its outcome reaches the order through the same event path a Stripe
webhook takes.
"""

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, FastAPI, Header, Request
from pydantic import BaseModel, Field
from ray import serve
from ray.serve.deployment import Application
from sqlalchemy.exc import SQLAlchemyError
from stripe import SignatureVerificationError, Webhook

from actors.errors import InvalidSignature, MarqueeError, PaymentIntentNotFound
from config.settings import Settings
from persistence import orders_store
from serve.http.admission import Priority, classifier
from serve.http.auth import Principal
from serve.http.platform import Platform, bind_deployment, create_app
from serve.http.problems import problems
from serve.payments.flow import PAYMENT_FAILED, PAYMENT_SUCCEEDED, CheckoutFlow
from serve.payments.providers import IntentStatus, LocalProvider, make_provider
from serve.users.schemas import Strict

logger = logging.getLogger(__name__)

ROUTE_PREFIX = "/api/v1/payments"


class IntentConfirm(Strict):
    payment_method: str = Field(min_length=1, max_length=100, examples=["pm_card_visa"])


class WebhookRead(BaseModel):
    received: bool
    handled: bool


class PaymentError(BaseModel):
    code: str


class IntentRead(BaseModel):
    id: str
    object: str = "payment_intent"
    status: str
    amount: int
    currency: str
    last_payment_error: PaymentError | None


def install_webhook_route(app: FastAPI, platform: Platform, flow: CheckoutFlow) -> None:
    settings = platform.settings

    @app.post(
        "/webhooks/stripe",
        responses=problems(400, 404, 503),
        summary="Stripe's events, verified by their Stripe-Signature header",
    )
    async def stripe_webhook(
        request: Request,
        stripe_signature: Annotated[str | None, Header()] = None,
    ) -> WebhookRead:
        if settings.stripe_webhook_secret is None:
            raise InvalidSignature("No webhook secret is configured")
        # The signature covers the raw bytes, so nothing may parse them first.
        payload = await request.body()
        try:
            event = Webhook.construct_event(
                payload,
                stripe_signature,
                settings.stripe_webhook_secret.get_secret_value(),
                tolerance=settings.stripe_webhook_tolerance_s,
            )
        except (SignatureVerificationError, ValueError) as exc:
            raise InvalidSignature("The Stripe-Signature does not verify") from exc
        if event.type not in (PAYMENT_SUCCEEDED, PAYMENT_FAILED):
            return WebhookRead(received=True, handled=False)
        await flow.handle_event(event.id, event.type, event.data.object["id"])
        return WebhookRead(received=True, handled=True)


def install_routes(
    app: FastAPI, platform: Platform, provider: LocalProvider, flow: CheckoutFlow
) -> None:
    """The local provider's confirm endpoint, active only without Stripe."""
    Caller = Annotated[Principal, Depends(platform.authenticate)]

    @app.post(
        "/intents/{payment_intent_id}/confirm",
        responses=problems(401, 404, 503),
        summary="Confirm a local PaymentIntent with a Stripe test card",
    )
    async def confirm_intent(
        payment_intent_id: str, body: IntentConfirm, caller: Caller
    ) -> IntentRead:
        order = await platform.transaction(
            lambda session: orders_store.order_for_intent(session, payment_intent_id)
        )
        # Only the customer who owns the order confirms its payment.
        if order is None or order.customer_id != caller.subject_id:
            raise PaymentIntentNotFound(
                "No such payment intent", payment_intent_id=payment_intent_id
            )
        intent = await provider.confirm(payment_intent_id, body.payment_method)
        kind = (
            PAYMENT_SUCCEEDED if intent.status is IntentStatus.SUCCEEDED
            else PAYMENT_FAILED
        )  # fmt: skip
        await flow.handle_event(f"evt_local_{uuid.uuid4().hex}", kind, intent.intent_id)
        return IntentRead(
            id=intent.intent_id,
            status=intent.status.value,
            amount=intent.amount,
            currency=intent.currency,
            last_payment_error=(
                PaymentError(code=intent.last_error_code)
                if intent.last_error_code
                and intent.status is not IntentStatus.SUCCEEDED
                else None
            ),
        )


@serve.deployment(name="payments")
@serve.ingress()
class PaymentsDeployment:
    def __init__(self, settings: Settings) -> None:
        self._platform = Platform(settings)
        directory = self._platform.showtime_directory()
        self._provider = make_provider(self._platform)
        self._flow = CheckoutFlow(self._platform, directory, self._provider)

    @asynccontextmanager
    async def _sweeping(self, app: FastAPI) -> AsyncIterator[None]:
        """Run the recovery sweep for as long as the replica serves."""
        task = asyncio.get_running_loop().create_task(self._sweep_forever())
        try:
            yield
        finally:
            task.cancel()

    async def _sweep_forever(self) -> None:
        settings = self._platform.settings
        while True:
            try:
                await self._flow.recover(idle_s=settings.recovery_idle_s)
            except (MarqueeError, SQLAlchemyError):
                # Stripe or the database is away; the next sweep tries again.
                logger.warning("recovery sweep failed", exc_info=True)
            await asyncio.sleep(settings.recovery_sweep_interval_s)

    def __serve_build_asgi_app__(self) -> FastAPI:
        app = create_app(
            self._platform,
            route_prefix=ROUTE_PREFIX,
            title="Marquee payments",
            description="Payment confirmation and provider events.",
            lifespan=self._sweeping,
            # Payments are never shed before anything else.
            classify=classifier(default=Priority.CRITICAL),
        )
        install_webhook_route(app, self._platform, self._flow)
        if isinstance(self._provider, LocalProvider):
            install_routes(app, self._platform, self._provider, self._flow)
        return app


def payments_application(settings: Settings) -> Application:
    return bind_deployment(PaymentsDeployment, settings, num_replicas=settings.replicas)
