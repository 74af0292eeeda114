"""What every scenario shares: signing up, choosing showtimes, the ledger.

The ledger records what the server acknowledged (holds, confirmed orders and
their bookings) so that the run can check, when it stops, that no seat was
sold twice and every confirmed order has its booking.
"""

from __future__ import annotations

import os
import random
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from locust import FastHttpUser
from locust.exception import StopUser

API = "/api/v1"
# Customers spread over the soonest showtimes, as many as `make run` warms
# (MARQUEE_WARM_SHOWTIMES); set MARQUEE_LOAD_SHOWTIMES to spread wider.
SHOWTIMES_IN_PLAY = int(os.environ.get("MARQUEE_LOAD_SHOWTIMES", "12"))


@dataclass
class Ledger:
    lock: threading.Lock = field(default_factory=threading.Lock)
    # (showtime id, seat) -> booking ids that claimed it while confirmed.
    sold: dict[tuple[str, str], set[str]] = field(
        default_factory=lambda: defaultdict(set)
    )
    confirmed_orders: dict[str, str | None] = field(default_factory=dict)
    cancelled_bookings: set[str] = field(default_factory=set)

    def record_booking(self, order_id: str, booking: dict[str, Any] | None) -> None:
        with self.lock:
            self.confirmed_orders[order_id] = booking["booking_id"] if booking else None
            if booking is not None:
                for seat in booking["seats"]:
                    self.sold[(booking["showtime_id"], seat)].add(booking["booking_id"])

    def problems(self) -> list[str]:
        with self.lock:
            found = [
                f"order {order_id} is confirmed without a booking"
                for order_id, booking_id in self.confirmed_orders.items()
                if booking_id is None
            ]
            for (showtime_id, seat), bookings in self.sold.items():
                live = bookings - self.cancelled_bookings
                if len(live) > 1:
                    found.append(f"{showtime_id} {seat} sold to {sorted(live)}")
            return found


LEDGER = Ledger()


class MarqueeUser(FastHttpUser):
    """A customer who signs up on start; subclasses add what they do."""

    abstract = True
    token: str = ""

    def on_start(self) -> None:
        email = f"load-{uuid.uuid4().hex[:12]}@example.com"
        password = "load test password"
        for _ in range(20):
            response = self.client.post(
                f"{API}/users",
                json={"email": email, "password": password, "display_name": "load"},
                name="sign up",
            )
            if response.status_code != 429:
                break
            time.sleep(float(response.headers.get("Retry-After", "1")))
        tokens = self.client.post(
            f"{API}/users/token",
            data={"grant_type": "password", "username": email, "password": password},
            name="log in",
        )
        self.token = tokens.json()["access_token"]

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def showtimes(self) -> list[dict[str, Any]]:
        response = self.client.get(
            f"{API}/catalog/showtimes",
            params={"page_size": SHOWTIMES_IN_PLAY},
            name="showtimes",
        )
        items: list[dict[str, Any]] = response.json()["items"]
        return items

    def read_seat_map(self, showtime_id: str) -> None:
        with self.client.get(
            f"{API}/booking/showtimes/{showtime_id}/seats",
            name="seats",
            catch_response=True,
        ) as response:
            # Shed while busy, or the showtime still starting: a problem with
            # Retry-After, expected under load. Other errors fail as usual.
            if response.status_code in (429, 503) and response.headers.get(
                "Retry-After"
            ):
                response.success()

    def hold(self, showtime_id: str, count: int) -> dict[str, Any] | None:
        with self.client.post(
            f"{API}/booking/showtimes/{showtime_id}/holds",
            json={"count": count},
            headers=self.auth,
            name="hold",
            catch_response=True,
        ) as response:
            # Sold out, rate limited, shed: expected answers under load.
            if response.status_code in (409, 429, 503):
                response.success()
                return None
            if response.status_code != 201:
                response.failure(f"hold answered {response.status_code}")
                return None
            body: dict[str, Any] = response.json()
            return body

    def release(self, hold_id: str) -> None:
        self.client.delete(
            f"{API}/booking/holds/{hold_id}", headers=self.auth, name="release"
        )

    def buy(self, hold: dict[str, Any]) -> None:
        """Order the hold, pay with a test card, and record the booking."""
        order = self.client.post(
            f"{API}/booking/orders",
            json={"hold_id": hold["hold_id"]},
            headers={**self.auth, "Idempotency-Key": uuid.uuid4().hex},
            name="order",
        )
        if order.status_code != 201:
            return
        body = order.json()
        self.client.post(
            f"{API}/payments/intents/{body['payment']['payment_intent_id']}/confirm",
            json={"payment_method": "pm_card_visa"},
            headers=self.auth,
            name="pay",
        )
        after = self.client.get(
            f"{API}/booking/orders/{body['order_id']}",
            headers=self.auth,
            name="order status",
        ).json()
        if after["status"] != "confirmed":
            return
        booking = None
        if after.get("booking_id"):
            booking = self.client.get(
                f"{API}/booking/bookings/{after['booking_id']}",
                headers=self.auth,
                name="booking",
            ).json()
        LEDGER.record_booking(body["order_id"], booking)


def pick(showtimes: list[dict[str, Any]]) -> str:
    if not showtimes:
        raise StopUser("nothing is on sale")
    return str(random.choice(showtimes)["id"])
