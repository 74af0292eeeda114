"""Seat maps and holds over HTTP, through the showtime actors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.http.catalog import add_showtime
from tests.http.conftest import Account


@pytest.fixture
def showtime(client: httpx.Client, admin: Account) -> dict[str, Any]:
    return add_showtime(client, admin)


@pytest.fixture(scope="module")
def unchanged_showtime(base_url: str, admin: Account) -> dict[str, Any]:
    """One showtime for tests that must leave it as they found it."""
    with httpx.Client(base_url=base_url, timeout=30) as client:
        return add_showtime(client, admin)


def hold(
    client: httpx.Client,
    account: Account,
    showtime_id: str,
    body: dict[str, Any],
    **headers: str,
) -> httpx.Response:
    return client.post(
        f"/api/v1/booking/showtimes/{showtime_id}/holds",
        json=body,
        headers={**account.headers, **headers},
    )


def test_the_seat_map_lists_every_seat_with_its_status(
    client: httpx.Client, showtime: dict[str, Any]
) -> None:
    seats = client.get(f"/api/v1/booking/showtimes/{showtime['id']}/seats")

    body = seats.json()
    assert seats.status_code == 200
    assert body["available"] == 32
    assert [row["label"] for row in body["rows"]] == ["A", "B", "C", "D"]
    assert body["rows"][3]["seats"][0] == {
        "label": "D1",
        "category": "premium",
        "status": "free",
    }


def test_the_seat_map_has_an_etag_that_changes_with_the_seats(
    client: httpx.Client,
    showtime: dict[str, Any],
    new_account: Callable[..., Account],
) -> None:
    path = f"/api/v1/booking/showtimes/{showtime['id']}/seats"
    first = client.get(path)
    etag = first.headers["etag"]
    # The route's own caching rule, not a second, contradicting one.
    assert first.headers.get_list("cache-control") == ["max-age=0"]

    unchanged = client.get(path, headers={"If-None-Match": etag})
    assert unchanged.status_code == 304
    assert unchanged.content == b""

    assert (
        hold(client, new_account(), showtime["id"], {"seats": ["A1"]}).status_code
        == 201
    )
    changed = client.get(path, headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag
    assert changed.json()["version"] == first.json()["version"] + 1


def test_a_customer_holds_named_seats_and_the_map_shows_them_held(
    client: httpx.Client,
    showtime: dict[str, Any],
    new_account: Callable[..., Account],
) -> None:
    customer = new_account()
    before = client.get(f"/api/v1/booking/showtimes/{showtime['id']}/seats").json()

    response = hold(client, customer, showtime["id"], {"seats": ["A1", "D1"]})
    after = client.get(f"/api/v1/booking/showtimes/{showtime['id']}/seats").json()

    assert response.status_code == 201
    body = response.json()
    assert body["seats"] == ["A1", "D1"]
    assert body["amount_cents"] == 1200 + 1800
    assert body["currency"] == "EUR"
    assert after["version"] > before["version"]
    assert after["available"] == 30
    assert after["rows"][0]["seats"][0]["status"] == "held"


def test_best_available_seats_are_held_together(
    client: httpx.Client,
    showtime: dict[str, Any],
    new_account: Callable[..., Account],
) -> None:
    response = hold(client, new_account(), showtime["id"], {"count": 3})

    seats = response.json()["seats"]
    assert response.status_code == 201
    assert len({seat[0] for seat in seats}) == 1  # one row


def test_a_taken_seat_is_seat_unavailable_naming_it(
    client: httpx.Client,
    showtime: dict[str, Any],
    new_account: Callable[..., Account],
) -> None:
    hold(client, new_account(), showtime["id"], {"seats": ["B2"]})

    response = hold(client, new_account(), showtime["id"], {"seats": ["B1", "B2"]})

    assert response.status_code == 409
    problem = response.json()
    assert problem["code"] == "seat_unavailable"
    assert problem["seats"] == ["B2"]
    assert problem["showtime_id"] == showtime["id"]


def test_releasing_a_hold_puts_its_seats_back_on_sale(
    client: httpx.Client,
    showtime: dict[str, Any],
    new_account: Callable[..., Account],
) -> None:
    customer = new_account()
    held = hold(client, customer, showtime["id"], {"seats": ["C3"]}).json()

    released = client.delete(
        f"/api/v1/booking/holds/{held['hold_id']}", headers=customer.headers
    )
    read = client.get(
        f"/api/v1/booking/holds/{held['hold_id']}", headers=customer.headers
    )
    again = hold(client, new_account(), showtime["id"], {"seats": ["C3"]})

    assert released.status_code == 204
    assert read.json()["status"] == "released"
    assert again.status_code == 201


def test_a_customer_lists_their_active_holds(
    client: httpx.Client,
    showtime: dict[str, Any],
    admin: Account,
    new_account: Callable[..., Account],
) -> None:
    customer = new_account()
    other_showtime = add_showtime(client, admin)
    first = hold(client, customer, showtime["id"], {"seats": ["A4"]}).json()
    second = hold(client, customer, other_showtime["id"], {"count": 2}).json()
    hold(client, new_account(), showtime["id"], {"seats": ["A5"]})

    mine = client.get("/api/v1/booking/holds", headers=customer.headers).json()

    assert sorted(h["hold_id"] for h in mine) == sorted(
        [first["hold_id"], second["hold_id"]]
    )


def test_a_new_hold_replaces_the_customers_previous_one(
    client: httpx.Client,
    showtime: dict[str, Any],
    new_account: Callable[..., Account],
) -> None:
    customer = new_account()
    first = hold(client, customer, showtime["id"], {"seats": ["A1"]}).json()

    second = hold(client, customer, showtime["id"], {"seats": ["A2"]}).json()
    old = client.get(
        f"/api/v1/booking/holds/{first['hold_id']}", headers=customer.headers
    )

    assert old.json()["status"] == "replaced"
    assert second["seats"] == ["A2"]


def test_the_same_idempotency_key_gives_the_same_hold(
    client: httpx.Client,
    showtime: dict[str, Any],
    new_account: Callable[..., Account],
) -> None:
    customer = new_account()

    first = hold(
        client, customer, showtime["id"], {"count": 2}, **{"Idempotency-Key": "k1"}
    )
    second = hold(
        client, customer, showtime["id"], {"count": 2}, **{"Idempotency-Key": "k1"}
    )
    different = hold(
        client, customer, showtime["id"], {"count": 3}, **{"Idempotency-Key": "k1"}
    )

    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert different.status_code == 409
    assert different.json()["code"] == "request_id_conflict"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"seats": ["Z99"]}, "unknown_seat"),
        ({"seats": ["A1", "A1"]}, "duplicate_seat"),
        ({"count": 0}, "invalid_seat_count"),
        ({"count": 11}, "seat_limit_exceeded"),
        ({"count": 9}, "not_enough_seats"),
        ({"seats": ["A1"], "count": 1}, "validation_failed"),
        ({}, "validation_failed"),
        ({"count": 1, "category": "balcony"}, "validation_failed"),
        ({"count": 1, "customer_id": "someone-else"}, "validation_failed"),
    ],
)
def test_bad_holds_get_a_specific_error_and_change_nothing(
    client: httpx.Client,
    unchanged_showtime: dict[str, Any],
    new_account: Callable[..., Account],
    body: dict[str, Any],
    code: str,
) -> None:
    showtime_id = unchanged_showtime["id"]
    before = client.get(f"/api/v1/booking/showtimes/{showtime_id}/seats").json()

    response = hold(client, new_account(), showtime_id, body)

    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == code, response.text
    after = client.get(f"/api/v1/booking/showtimes/{showtime_id}/seats").json()
    assert after == before


def test_an_unknown_showtime_is_not_found(
    client: httpx.Client, new_account: Callable[..., Account]
) -> None:
    response = hold(client, new_account(), "no-such-showtime", {"count": 1})
    seats = client.get("/api/v1/booking/showtimes/no-such-showtime/seats")

    assert response.status_code == seats.status_code == 404
    assert response.json()["code"] == "showtime_not_found"


def test_a_customer_cannot_hold_more_than_the_cap_across_showtimes(
    client: httpx.Client, admin: Account, new_account: Callable[..., Account]
) -> None:
    wide = ["SSSSSSSSSSSS"] * 3
    first = add_showtime(client, admin, layout=wide)
    second = add_showtime(client, admin, layout=wide)
    customer = new_account()
    assert hold(client, customer, first["id"], {"count": 8}).status_code == 201

    refused = hold(client, customer, second["id"], {"count": 5})

    assert refused.status_code == 409
    assert refused.json()["code"] == "hold_cap_exceeded"
    assert refused.json()["limit"] == 12
    # Changing the hold on the same showtime is not holding more.
    assert hold(client, customer, first["id"], {"count": 9}).status_code == 201
    assert hold(client, customer, second["id"], {"count": 3}).status_code == 201
