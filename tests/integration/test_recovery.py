"""The recovery sweep settles what a crash left between two checkout steps.

A payments replica killed mid-checkout leaves this state behind: the charge (or
the booking) is recorded, the next step is not. The tests reach that state with
the real actor, database and local provider, once by skipping the lost step and
once by SIGKILLing a process that is running the steps, then run the sweep a
restarted replica runs.
"""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
import ray

from actors.directory import ShowtimeDirectory
from actors.messages import (
    BookingResult,
    CancelShowtime,
    ConfirmHold,
    HoldResult,
    HoldSeats,
)
from actors.showtime_actor import ActorOptions
from config.settings import Settings
from persistence import orders_store
from persistence.database import Database
from persistence.models import OrderRecord, OrderStatus
from serve.http.platform import Platform
from serve.payments.flow import CheckoutFlow
from serve.payments.providers import LocalProvider
from tests.factories import create_showtime

pytestmark = pytest.mark.ray


@dataclass
class Harness:
    platform: Platform
    directory: ShowtimeDirectory
    provider: LocalProvider
    flow: CheckoutFlow
    showtime_id: str

    async def order(
        self, customer: str, seat: str, *, with_intent: bool = True
    ) -> OrderRecord:
        (held,) = await self.directory.submit(
            self.showtime_id, [HoldSeats(uuid.uuid4().hex, customer, (seat,))]
        )
        assert isinstance(held, HoldResult), held
        now = datetime.now(UTC)
        order = OrderRecord(
            id=uuid.uuid4().hex,
            customer_id=customer,
            showtime_id=self.showtime_id,
            hold_id=held.hold_id,
            amount_cents=held.amount_cents,
            currency=held.currency,
            status=OrderStatus.AWAITING_PAYMENT,
            provider="local",
            payment_intent_id=None,
            client_secret=None,
            booking_id=None,
            failure_code=None,
            created_at=now,
            updated_at=now,
        )
        if with_intent:
            intent = await self.provider.create_intent(
                order_id=order.id, amount=order.amount_cents, currency=order.currency
            )
            order.payment_intent_id = intent.intent_id
            order.client_secret = intent.client_secret
        await self.platform.transaction(lambda s: orders_store.add_order(s, order))
        return order

    async def reread(self, order: OrderRecord) -> OrderRecord:
        current = await self.platform.transaction(
            lambda s: orders_store.order(s, order.id)
        )
        assert current is not None
        return current


@pytest.fixture
def run(ray_cluster: str, sqlite_url: str) -> Callable[..., None]:
    def run_with(scenario: Callable[[Harness], Awaitable[None]]) -> None:
        async def main() -> None:
            settings = Settings(database_url=sqlite_url, ray_namespace=ray_cluster)
            platform = Platform(settings)
            directory = ShowtimeDirectory(
                ActorOptions.from_settings(settings), namespace=ray_cluster
            )
            provider = LocalProvider(platform)
            showtime_id = create_showtime(Database(sqlite_url, pool_size=1))
            harness = Harness(
                platform,
                directory,
                provider,
                CheckoutFlow(platform, directory, provider),
                showtime_id,
            )
            try:
                await scenario(harness)
            finally:
                await platform.close()

        asyncio.run(main())

    return run_with


def test_a_charge_without_a_booking_is_booked_by_the_sweep(
    run: Callable[..., None],
) -> None:
    async def scenario(h: Harness) -> None:
        order = await h.order("ann", "A1")
        # Charged; the process died before the event reached the flow.
        await h.provider.confirm(order.payment_intent_id or "", "pm_card_visa")

        settled = await h.flow.recover(idle_s=0)

        current = await h.reread(order)
        assert settled >= 1
        assert current.status is OrderStatus.CONFIRMED
        assert current.booking_id is not None

    run(scenario)


def test_a_booking_whose_order_was_never_updated_is_not_refunded(
    run: Callable[..., None],
) -> None:
    async def scenario(h: Harness) -> None:
        order = await h.order("ben", "A2")
        await h.provider.confirm(order.payment_intent_id or "", "pm_card_visa")
        # The actor booked the seat; the process died before the order said so.
        (booked,) = await h.directory.submit(
            h.showtime_id,
            [
                ConfirmHold(
                    f"confirm:{order.id}",
                    "ben",
                    order.hold_id,
                    order.payment_intent_id or "",
                )
            ],
        )
        assert isinstance(booked, BookingResult)

        await h.flow.recover(idle_s=0)

        current = await h.reread(order)
        intent = await h.provider.retrieve(order.payment_intent_id or "")
        assert current.status is OrderStatus.CONFIRMED
        assert current.booking_id == booked.booking_id
        assert intent.amount_refunded == 0

    run(scenario)


def test_a_charge_for_a_hold_that_is_gone_is_refunded_by_the_sweep(
    run: Callable[..., None],
) -> None:
    async def scenario(h: Harness) -> None:
        order = await h.order("cat", "A3")
        await h.provider.confirm(order.payment_intent_id or "", "pm_card_visa")
        await h.directory.submit(h.showtime_id, [CancelShowtime("cancel")])

        await h.flow.recover(idle_s=0)

        current = await h.reread(order)
        intent = await h.provider.retrieve(order.payment_intent_id or "")
        assert current.status is OrderStatus.REFUNDED
        assert intent.amount_refunded == intent.amount

    run(scenario)


def test_an_order_that_never_got_a_payment_intent_is_failed(
    run: Callable[..., None],
) -> None:
    async def scenario(h: Harness) -> None:
        order = await h.order("dan", "A4", with_intent=False)

        await h.flow.recover(idle_s=0)

        assert (await h.reread(order)).status is OrderStatus.FAILED

    run(scenario)


def test_the_sweep_leaves_recent_and_unpaid_orders_alone(
    run: Callable[..., None],
) -> None:
    async def scenario(h: Harness) -> None:
        unpaid = await h.order("eve", "A5")

        await h.flow.recover(idle_s=0)
        await h.flow.recover(idle_s=3600)

        assert (await h.reread(unpaid)).status is OrderStatus.AWAITING_PAYMENT

    run(scenario)


@ray.remote(num_cpus=0, max_retries=0)
def pay_then_die(
    database_url: str, namespace: str, order_id: str, die_after: str
) -> None:
    """Run checkout steps for an order in a process that SIGKILLs itself."""

    async def steps() -> None:
        settings = Settings(database_url=database_url, ray_namespace=namespace)
        platform = Platform(settings)
        provider = LocalProvider(platform)
        directory = ShowtimeDirectory(
            ActorOptions.from_settings(settings), namespace=namespace
        )
        order = await platform.transaction(lambda s: orders_store.order(s, order_id))
        assert order is not None
        assert order.payment_intent_id is not None
        await provider.confirm(order.payment_intent_id, "pm_card_visa")
        if die_after == "booking":
            await directory.submit(
                order.showtime_id,
                [
                    ConfirmHold(
                        f"confirm:{order.id}",
                        order.customer_id,
                        order.hold_id,
                        order.payment_intent_id,
                    )
                ],
            )
        os.kill(os.getpid(), signal.SIGKILL)

    asyncio.run(steps())


@pytest.mark.parametrize("die_after", ["charge", "booking"])
def test_a_process_killed_mid_checkout_leaves_nothing_the_sweep_cannot_finish(
    run: Callable[..., None], sqlite_url: str, ray_cluster: str, die_after: str
) -> None:
    async def scenario(h: Harness) -> None:
        order = await h.order("kim", "B1")

        with pytest.raises(ray.exceptions.WorkerCrashedError):
            await pay_then_die.remote(sqlite_url, ray_cluster, order.id, die_after)
        await h.flow.recover(idle_s=0)

        current = await h.reread(order)
        intent = await h.provider.retrieve(order.payment_intent_id or "")
        assert current.status is OrderStatus.CONFIRMED
        assert current.booking_id is not None
        assert intent.amount_refunded == 0

    run(scenario)
