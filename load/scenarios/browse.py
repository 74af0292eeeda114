"""Browsing: the catalog and seat maps, no holds."""

from __future__ import annotations

from locust import between, task

from load.scenarios.common import API, MarqueeUser, pick


class Browser(MarqueeUser):
    wait_time = between(0.5, 2)

    @task(3)
    def movies(self) -> None:
        self.client.get(f"{API}/catalog/movies", name="movies")

    @task(2)
    def seat_map(self) -> None:
        showtime_id = pick(self.showtimes())
        self.read_seat_map(showtime_id)
