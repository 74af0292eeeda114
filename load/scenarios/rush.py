"""The premiere rush: everyone on one showtime, holding and buying."""

from __future__ import annotations

import random
from typing import Any

from locust import between, task
from locust.exception import StopUser

from load.scenarios.common import MarqueeUser


class RushCustomer(MarqueeUser):
    wait_time = between(0.1, 0.5)
    target: str = ""

    def on_start(self) -> None:
        super().on_start()
        # Everyone picks the same showtime: the earliest one on sale.
        showtimes: list[dict[str, Any]] = self.showtimes()
        if not showtimes:
            raise StopUser("nothing is on sale")
        self.target = str(showtimes[0]["id"])

    @task
    def rush(self) -> None:
        self.read_seat_map(self.target)
        hold = self.hold(self.target, random.randint(2, 4))
        if hold is None:
            return
        if random.random() < 0.3:
            self.buy(hold)
        else:
            self.release(hold["hold_id"])
