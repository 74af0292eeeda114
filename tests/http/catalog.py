"""Helpers that set up catalog data over HTTP, as staff would."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.http.conftest import Account

SMALL_LAYOUT = ["SSSS.SSSS", "SSSS.SSSS", "SSSS.SSSS", "PPPP.PPPP"]
PRICES = {"standard": 1200, "premium": 1800}


def created(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def add_movie(client: httpx.Client, staff: Account, **overrides: Any) -> dict[str, Any]:
    body = {
        "title": f"Film {uuid.uuid4().hex[:8]}",
        "synopsis": "A test film.",
        "runtime_min": 101,
        "rating": "PG",
        "genres": ["drama"],
        **overrides,
    }
    return created(
        client.post("/api/v1/catalog/movies", json=body, headers=staff.headers)
    )


def add_showtime(
    client: httpx.Client,
    staff: Account,
    *,
    layout: list[str] | None = None,
    starts_in: timedelta = timedelta(days=2),
) -> dict[str, Any]:
    """A new cinema, auditorium, movie and a showtime in it."""
    cinema = created(
        client.post(
            "/api/v1/catalog/cinemas",
            json={"name": "Test Cinema", "city": "Lyon", "timezone": "Europe/Paris"},
            headers=staff.headers,
        )
    )
    auditorium = created(
        client.post(
            f"/api/v1/catalog/cinemas/{cinema['id']}/auditoriums",
            json={"name": "Room 1", "layout": layout or SMALL_LAYOUT},
            headers=staff.headers,
        )
    )
    movie = add_movie(client, staff)
    return created(
        client.post(
            "/api/v1/catalog/showtimes",
            json={
                "movie_id": movie["id"],
                "auditorium_id": auditorium["id"],
                "starts_at": (datetime.now(UTC) + starts_in).isoformat(),
                "prices": PRICES,
                "currency": "EUR",
            },
            headers=staff.headers,
        )
    )
