"""Abandoners: hold seats and walk away, leaving them to expire."""

from __future__ import annotations

import random

from locust import between, task

from load.scenarios.common import MarqueeUser, pick


class Abandoner(MarqueeUser):
    wait_time = between(1, 3)

    @task
    def hold_and_leave(self) -> None:
        self.hold(pick(self.showtimes()), random.randint(1, 3))
