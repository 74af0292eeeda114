"""The waiting room: who gets in first, and what the hold endpoint asks for."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from serve.booking.waiting_room import EARLY_SETTLE_S
from tests.http.catalog import add_showtime
from tests.http.conftest import Account

BOOKING = "/api/v1/booking"


@pytest.fixture
def showtime(client: httpx.Client, admin: Account) -> dict[str, Any]:
    return add_showtime(client, admin)


def open_room(
    client: httpx.Client,
    admin: Account,
    showtime_id: str,
    opens_at: datetime,
    admit_per_minute: int,
    active: bool = True,
) -> httpx.Response:
    response = client.put(
        f"{BOOKING}/showtimes/{showtime_id}/waiting-room",
        json={
            "opens_at": opens_at.isoformat(),
            "admit_per_minute": admit_per_minute,
            "active": active,
        },
        headers=admin.headers,
    )
    assert response.status_code == 200, response.text
    return response


def join(client: httpx.Client, account: Account, showtime_id: str) -> dict[str, Any]:
    response = client.post(
        f"{BOOKING}/showtimes/{showtime_id}/waiting-room/places",
        headers=account.headers,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def poll(
    client: httpx.Client, account: Account, showtime_id: str, place: str
) -> httpx.Response:
    return client.get(
        f"{BOOKING}/showtimes/{showtime_id}/waiting-room/places/{place}",
        headers=account.headers,
    )


def hold(
    client: httpx.Client, account: Account, showtime_id: str, token: str | None
) -> httpx.Response:
    headers = dict(account.headers)
    if token is not None:
        headers["X-Admission-Token"] = token
    return client.post(
        f"{BOOKING}/showtimes/{showtime_id}/holds",
        json={"count": 1},
        headers=headers,
    )


def test_early_arrivals_are_shuffled_and_later_ones_queue_in_order(
    client: httpx.Client,
    admin: Account,
    showtime: dict[str, Any],
    new_account: Callable[..., Account],
) -> None:
    showtime_id = showtime["id"]
    opens_at = datetime.now(UTC) + timedelta(seconds=2)
    open_room(client, admin, showtime_id, opens_at, admit_per_minute=1)

    early = [new_account("early") for _ in range(12)]
    early_places = [join(client, account, showtime_id) for account in early]
    assert all(place["position"] is None for place in early_places)
    assert all(not place["admitted"] for place in early_places)
    rejoined = join(client, early[0], showtime_id)
    assert rejoined["place"] == early_places[0]["place"]

    settled = opens_at + timedelta(seconds=EARLY_SETTLE_S + 0.3)
    time.sleep(max(0.0, (settled - datetime.now(UTC)).total_seconds()))
    late = [new_account("late") for _ in range(4)]
    late_places = [join(client, account, showtime_id) for account in late]

    early_positions = [
        poll(client, account, showtime_id, place["place"]).json()["position"]
        for account, place in zip(early, early_places, strict=True)
    ]
    assert sorted(early_positions) == list(range(1, 13))
    # Arriving first before the sale gains nothing (1 in 12! that this fails).
    assert early_positions != list(range(1, 13))
    assert [place["position"] for place in late_places] == [13, 14, 15, 16]
    last = late_places[-1]
    assert last["estimated_wait_s"] == pytest.approx(
        (16 - last["admitted_so_far"]) * 60
    )


def test_holds_need_an_admission_token_while_the_room_is_active(
    client: httpx.Client,
    admin: Account,
    showtime: dict[str, Any],
    new_account: Callable[..., Account],
) -> None:
    showtime_id = showtime["id"]
    # Open a minute ago at one a minute: exactly one place is in.
    opened = datetime.now(UTC) - timedelta(seconds=61)
    open_room(client, admin, showtime_id, opened, admit_per_minute=1)
    first, second = new_account("first"), new_account("second")

    first_place = join(client, first, showtime_id)
    second_place = join(client, second, showtime_id)
    assert (first_place["position"], first_place["admitted"]) == (1, True)
    assert (second_place["position"], second_place["admitted"]) == (2, False)
    assert second_place["admission_token"] is None
    token = first_place["admission_token"]

    refused = hold(client, second, showtime_id, None)
    assert refused.status_code == 403
    assert refused.json()["code"] == "waiting_room_required"
    borrowed = hold(client, second, showtime_id, token)
    assert borrowed.status_code == 403
    forged = hold(client, first, showtime_id, token[:-2] + "xx")
    assert forged.status_code == 403
    assert hold(client, first, showtime_id, token).status_code == 201
    assert hold(client, admin, showtime_id, None).status_code == 201

    stolen_place = poll(client, second, showtime_id, first_place["place"])
    assert stolen_place.status_code == 422

    open_room(client, admin, showtime_id, opened, admit_per_minute=1, active=False)
    assert hold(client, second, showtime_id, None).status_code == 201
    gone = poll(client, second, showtime_id, second_place["place"])
    assert gone.status_code == 404
    assert gone.json()["code"] == "waiting_room_not_found"


def test_only_staff_open_a_waiting_room_and_its_opening_needs_a_time_zone(
    client: httpx.Client,
    admin: Account,
    showtime: dict[str, Any],
    new_account: Callable[..., Account],
) -> None:
    customer = new_account()
    response = client.put(
        f"{BOOKING}/showtimes/{showtime['id']}/waiting-room",
        json={"opens_at": datetime.now(UTC).isoformat(), "admit_per_minute": 10},
        headers=customer.headers,
    )
    assert response.status_code == 403

    naive = client.put(
        f"{BOOKING}/showtimes/{showtime['id']}/waiting-room",
        json={"opens_at": "2026-12-24T18:00:00", "admit_per_minute": 10},
        headers=admin.headers,
    )
    assert naive.status_code == 422
    assert naive.json()["code"] == "validation_failed"
