"""The catalog over HTTP: staff writes, everyone reads."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.http.catalog import PRICES, add_movie, add_showtime, created
from tests.http.conftest import Account


def test_staff_schedule_a_showtime_that_everyone_can_find(
    client: httpx.Client, admin: Account
) -> None:
    showtime = add_showtime(client, admin)

    found = client.get(
        "/api/v1/catalog/showtimes", params={"movie_id": showtime["movie_id"]}
    )
    one = client.get(f"/api/v1/catalog/showtimes/{showtime['id']}")

    assert showtime["status"] == "on_sale"
    assert found.json()["total"] == 1
    assert found.json()["items"][0]["id"] == showtime["id"]
    assert one.json() == showtime


def test_movies_are_searched_by_title_and_genre_and_paged(
    client: httpx.Client, admin: Account
) -> None:
    word = uuid.uuid4().hex[:8]
    for n in range(3):
        add_movie(client, admin, title=f"{word} part {n}", genres=["Noir", "drama"])

    page = client.get(
        "/api/v1/catalog/movies", params={"q": word.upper(), "page_size": 2}
    ).json()
    second = client.get(
        "/api/v1/catalog/movies", params={"q": word, "page_size": 2, "page": 2}
    ).json()
    noir = client.get(
        "/api/v1/catalog/movies", params={"q": word, "genre": "noir"}
    ).json()

    assert page["total"] == 3
    assert [m["title"] for m in page["items"]] == [f"{word} part 0", f"{word} part 1"]
    assert [m["title"] for m in second["items"]] == [f"{word} part 2"]
    assert noir["total"] == 3
    assert noir["items"][0]["genres"] == ["drama", "noir"]


def test_a_changed_movie_is_seen_at_once_despite_the_cache(
    client: httpx.Client, admin: Account
) -> None:
    movie = add_movie(client, admin)
    assert client.get(f"/api/v1/catalog/movies/{movie['id']}").status_code == 200

    changed = client.patch(
        f"/api/v1/catalog/movies/{movie['id']}",
        json={"title": "A New Title"},
        headers=admin.headers,
    )
    read = client.get(f"/api/v1/catalog/movies/{movie['id']}")

    assert changed.status_code == 200
    assert read.json()["title"] == "A New Title"


def test_page_size_is_bounded(client: httpx.Client) -> None:
    response = client.get("/api/v1/catalog/movies", params={"page_size": 101})

    assert response.status_code == 422
    assert response.json()["code"] == "validation_failed"


@pytest.mark.parametrize(
    ("layout", "message"),
    [
        (["SSXS"], "'X' is not one of"),
        (["SSS", "..."], "Row B has no seats"),
    ],
)
def test_an_invalid_layout_is_refused_with_the_fault_named(
    client: httpx.Client, admin: Account, layout: list[str], message: str
) -> None:
    cinema = created(
        client.post(
            "/api/v1/catalog/cinemas",
            json={"name": "C", "city": "Oslo", "timezone": "Europe/Oslo"},
            headers=admin.headers,
        )
    )

    response = client.post(
        f"/api/v1/catalog/cinemas/{cinema['id']}/auditoriums",
        json={"name": "Bad", "layout": layout},
        headers=admin.headers,
    )

    assert response.status_code == 422
    assert response.json()["code"] == "invalid_layout"
    assert message in response.json()["detail"]


def _showtime_body(client: httpx.Client, admin: Account) -> dict[str, Any]:
    showtime = add_showtime(client, admin)
    return {
        "movie_id": showtime["movie_id"],
        "auditorium_id": showtime["auditorium_id"],
        "starts_at": (datetime.now(UTC) + timedelta(days=3)).isoformat(),
        "prices": dict(PRICES),
        "currency": "EUR",
    }


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"starts_at": "2001-01-01T10:00:00Z"}, 422, "validation_failed"),
        ({"starts_at": "2031-01-01T10:00:00"}, 422, "validation_failed"),
        ({"prices": {"standard": 1200}}, 422, "validation_failed"),
        ({"prices": {**PRICES, "balcony": 900}}, 422, "unknown_category"),
        ({"prices": {"standard": -5, "premium": 10}}, 422, "validation_failed"),
        ({"currency": "euro"}, 422, "validation_failed"),
        ({"movie_id": "no-such-movie"}, 404, "movie_not_found"),
        ({"auditorium_id": "no-such-room"}, 404, "auditorium_not_found"),
    ],
)
def test_bad_showtimes_are_refused_with_a_specific_code(
    client: httpx.Client,
    admin: Account,
    change: dict[str, Any],
    status: int,
    code: str,
) -> None:
    body = {**_showtime_body(client, admin), **change}

    response = client.post(
        "/api/v1/catalog/showtimes", json=body, headers=admin.headers
    )

    assert response.status_code == status, response.text
    assert response.json()["code"] == code


def test_customers_cannot_write_to_the_catalog(
    client: httpx.Client, new_account: Callable[..., Account]
) -> None:
    customer = new_account()
    body = {"title": "Mine", "runtime_min": 90, "rating": "G"}

    as_customer = client.post(
        "/api/v1/catalog/movies", json=body, headers=customer.headers
    )
    anonymous = client.post("/api/v1/catalog/movies", json=body)

    assert as_customer.status_code == 403
    assert anonymous.status_code == 401


def test_a_cancelled_showtime_stops_selling_and_releases_its_holds(
    client: httpx.Client, admin: Account, new_account: Callable[..., Account]
) -> None:
    showtime = add_showtime(client, admin)
    customer = new_account()
    held = client.post(
        f"/api/v1/booking/showtimes/{showtime['id']}/holds",
        json={"seats": ["A1"]},
        headers=customer.headers,
    )
    assert held.status_code == 201, held.text

    cancelled = client.post(
        f"/api/v1/catalog/showtimes/{showtime['id']}/cancel", headers=admin.headers
    )
    late = client.post(
        f"/api/v1/booking/showtimes/{showtime['id']}/holds",
        json={"count": 1},
        headers=customer.headers,
    )
    seats = client.get(f"/api/v1/booking/showtimes/{showtime['id']}/seats").json()

    assert cancelled.json()["status"] == "cancelled"
    assert late.status_code == 409
    assert late.json()["code"] == "sales_closed"
    assert seats["available"] == 32
    listed = client.get(
        "/api/v1/catalog/showtimes", params={"movie_id": showtime["movie_id"]}
    )
    assert listed.json()["total"] == 0
