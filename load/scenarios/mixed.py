"""Mixed traffic over many showtimes: some browse, some buy."""

from __future__ import annotations

import random

from locust import between, task

from load.scenarios.common import MarqueeUser, pick


class MixedCustomer(MarqueeUser):
    wait_time = between(0.2, 1)

    @task
    def shop(self) -> None:
        showtime_id = pick(self.showtimes())
        hold = self.hold(showtime_id, random.randint(1, 4))
        if hold is not None and random.random() < 0.5:
            self.buy(hold)
        elif hold is not None:
            self.release(hold["hold_id"])
