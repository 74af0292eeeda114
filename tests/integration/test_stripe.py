"""Checkout with the Stripe provider: the official SDK against a local server
that speaks Stripe's wire format, and webhooks signed by the SDK's own helper.

The booking and payments routes run in-process (ASGI) over real showtime actors
and a real database; only Stripe is a stand-in.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from stripe import WebhookSignature

from actors.directory import ShowtimeDirectory
from actors.engine import Outcome
from actors.messages import Command
from actors.showtime_actor import ActorOptions
from config.settings import Settings
from persistence.database import Database
from serve.booking.app import ROUTE_PREFIX as BOOKING
from serve.booking.app import install_routes as install_booking
from serve.http.platform import Platform, create_app
from serve.payments.app import ROUTE_PREFIX as PAYMENTS
from serve.payments.app import install_webhook_route
from serve.payments.flow import CheckoutFlow
from serve.payments.providers import StripeProvider
from tests.factories import create_showtime
from tests.fakes.stripe_server import API_KEY, FakeStripe, running_fake_stripe

pytestmark = pytest.mark.ray

WEBHOOK_SECRET = "whsec_marquee_test_secret"


@pytest.fixture
def fake_stripe() -> Iterator[FakeStripe]:
    with running_fake_stripe() as fake:
        yield fake


@dataclass
class Checkout:
    client: httpx.AsyncClient
    platform: Platform
    provider: StripeProvider
    showtime_id: str
    # Customers are named per test: the session's database is shared.
    suffix: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    def headers(self, customer: str, key: str | None = None) -> dict[str, str]:
        subject = f"{customer}-{self.suffix}"
        token = self.platform.tokens.issue_access(subject, ["customer"]).token
        headers = {"Authorization": f"Bearer {token}"}
        if key is not None:
            headers["Idempotency-Key"] = key
        return headers

    async def hold(self, customer: str, seats: list[str]) -> str:
        response = await self.client.post(
            f"{BOOKING}/showtimes/{self.showtime_id}/holds",
            json={"seats": seats},
            headers=self.headers(customer),
        )
        assert response.status_code == 201, response.text
        return str(response.json()["hold_id"])

    async def order(self, customer: str, hold_id: str, key: str) -> httpx.Response:
        return await self.client.post(
            f"{BOOKING}/orders",
            json={"hold_id": hold_id},
            headers=self.headers(customer, key),
        )

    async def read_order(self, customer: str, order_id: str) -> dict[str, Any]:
        response = await self.client.get(
            f"{BOOKING}/orders/{order_id}", headers=self.headers(customer)
        )
        body: dict[str, Any] = response.json()
        return body

    async def webhook(
        self,
        kind: str,
        intent_id: str,
        *,
        event_id: str | None = None,
        secret: str = WEBHOOK_SECRET,
        timestamp: int | None = None,
    ) -> httpx.Response:
        payload = json.dumps(
            {
                "id": event_id or f"evt_{uuid.uuid4().hex}",
                "object": "event",
                "type": kind,
                "data": {"object": {"id": intent_id, "object": "payment_intent"}},
            }
        )
        signature = WebhookSignature.generate_signature_header(
            payload, secret, timestamp=timestamp
        )
        return await self.client.post(
            f"{PAYMENTS}/webhooks/stripe",
            content=payload,
            headers={"Stripe-Signature": signature, "Content-Type": "application/json"},
        )


@pytest.fixture
def make_checkout(
    ray_cluster: str, sqlite_url: str, fake_stripe: FakeStripe
) -> Callable[[], Any]:
    @asynccontextmanager
    async def build() -> AsyncIterator[Checkout]:
        settings = Settings(
            database_url=sqlite_url,
            ray_namespace=ray_cluster,
            stripe_secret_key=SecretStr(API_KEY),
            stripe_webhook_secret=SecretStr(WEBHOOK_SECRET),
            stripe_api_base=fake_stripe.base_url,
            stripe_max_retries=0,
            rate_limit_holds_per_minute=10_000,
            rate_limit_per_minute=10_000,
        )
        platform = Platform(settings)
        directory = ShowtimeDirectory(
            ActorOptions.from_settings(settings), namespace=ray_cluster
        )
        provider = StripeProvider(settings)
        flow = CheckoutFlow(platform, directory, provider)

        async def submit(
            showtime_id: str, command: Command, client_address: str | None = None
        ) -> Outcome:
            # Straight to the actor: no batch, so no seat caps either.
            (outcome,) = await directory.submit(showtime_id, [command])
            return outcome

        app = create_app(
            platform, route_prefix="", title="t", description="d", behind_serve=False
        )
        booking = create_app(
            platform, route_prefix="", title="t", description="d", behind_serve=False
        )
        install_booking(booking, platform, directory, submit, flow)
        install_webhook_route(app, platform, flow)
        router = PrefixRouter({BOOKING: booking, PAYMENTS: app})
        showtime_id = create_showtime(Database(sqlite_url, pool_size=1))
        transport = httpx.ASGITransport(app=router)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            yield Checkout(http, platform, provider, showtime_id)
        await platform.close()

    return build


class PrefixRouter:
    """Strips a route prefix and hands the request on, as Serve does."""

    def __init__(self, apps: dict[str, Any]) -> None:
        self._apps = apps

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        for prefix, app in self._apps.items():
            if scope["type"] == "http" and scope["path"].startswith(prefix):
                scope = dict(scope, root_path=prefix)
                await app(scope, receive, send)
                return
        raise LookupError(scope.get("path"))


def test_a_stripe_payment_confirmed_by_webhook_becomes_a_booking_then_a_refund(
    make_checkout: Callable[[], Any], fake_stripe: FakeStripe
) -> None:
    async def scenario() -> None:
        async with make_checkout() as checkout:
            hold_id = await checkout.hold("alice", ["A1", "A2"])
            response = await checkout.order("alice", hold_id, "k1")
            created = response.json()
            assert response.status_code == 201, response.text
            intent_id = created["payment"]["payment_intent_id"]
            assert created["payment"]["provider"] == "stripe"
            assert fake_stripe.intents[intent_id]["amount"] == 2400
            assert fake_stripe.intents[intent_id]["metadata"] == {
                "order_id": created["order_id"]
            }

            fake_stripe.succeed(intent_id)
            hook = await checkout.webhook("payment_intent.succeeded", intent_id)
            order = await checkout.read_order("alice", created["order_id"])
            cancelled = await checkout.client.post(
                f"{BOOKING}/bookings/{order['booking_id']}/cancel",
                headers=checkout.headers("alice"),
            )

            assert hook.json() == {"received": True, "handled": True}
            assert order["status"] == "confirmed"
            assert cancelled.json()["refund"] == {
                "amount_cents": 2400,
                "status": "succeeded",
            }
            assert len(fake_stripe.refunds) == 1

    asyncio.run(scenario())


def test_bad_signatures_and_old_timestamps_are_refused(
    make_checkout: Callable[[], Any], fake_stripe: FakeStripe
) -> None:
    async def scenario() -> None:
        async with make_checkout() as checkout:
            hold_id = await checkout.hold("bob", ["B1"])
            created = (await checkout.order("bob", hold_id, "k1")).json()
            intent_id = created["payment"]["payment_intent_id"]
            fake_stripe.succeed(intent_id)

            forged = await checkout.webhook(
                "payment_intent.succeeded", intent_id, secret="whsec_wrong"
            )
            stale = await checkout.webhook(
                "payment_intent.succeeded",
                intent_id,
                timestamp=int(time.time()) - 3600,
            )
            order = await checkout.read_order("bob", created["order_id"])

            assert forged.status_code == stale.status_code == 400
            assert forged.json()["code"] == "invalid_signature"
            assert order["status"] == "awaiting_payment"

    asyncio.run(scenario())


def test_one_event_five_times_at_once_and_events_out_of_order_have_one_effect(
    make_checkout: Callable[[], Any], fake_stripe: FakeStripe
) -> None:
    async def scenario() -> None:
        async with make_checkout() as checkout:
            hold_id = await checkout.hold("carol", ["C1", "C2"])
            created = (await checkout.order("carol", hold_id, "k1")).json()
            intent_id = created["payment"]["payment_intent_id"]
            fake_stripe.succeed(intent_id)

            answers = await asyncio.gather(
                *(
                    checkout.webhook(
                        "payment_intent.succeeded", intent_id, event_id="evt_same"
                    )
                    for _ in range(5)
                )
            )
            # A failure notice arriving late must not undo the payment.
            late = await checkout.webhook("payment_intent.payment_failed", intent_id)
            order = await checkout.read_order("carol", created["order_id"])
            bookings = await checkout.client.get(
                f"{BOOKING}/bookings", headers=checkout.headers("carol")
            )

            assert {answer.status_code for answer in answers} == {200}
            assert late.status_code == 200
            assert order["status"] == "confirmed"
            assert len(bookings.json()) == 1
            assert fake_stripe.charged_count(created["order_id"]) == 1

    asyncio.run(scenario())


def test_a_stripe_outage_opens_the_breaker_and_orders_fail_fast(
    make_checkout: Callable[[], Any], fake_stripe: FakeStripe
) -> None:
    async def scenario() -> None:
        async with make_checkout() as checkout:
            hold_id = await checkout.hold("dave", ["D1"])
            fake_stripe.outage = True

            failures = [
                await checkout.order("dave", hold_id, f"k{attempt}")
                for attempt in range(5)
            ]
            calls_when_open = fake_stripe.calls
            fast = await checkout.order("dave", hold_id, "k-open")

            assert {f.status_code for f in failures} == {503}
            assert all("retry-after" in f.headers for f in failures)
            assert checkout.provider.breaker.is_open
            assert fast.status_code == 503
            assert fast.json()["code"] == "dependency_unavailable"
            assert int(fast.headers["retry-after"]) >= 1
            # The open breaker did not call Stripe at all.
            assert fake_stripe.calls == calls_when_open
            assert not any(
                i["status"] == "succeeded" for i in fake_stripe.intents.values()
            )

    asyncio.run(scenario())
