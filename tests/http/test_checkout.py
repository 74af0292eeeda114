"""Orders paid with the local provider, through to bookings and tickets."""

from __future__ import annotations

import concurrent.futures
import io
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
import segno
from sqlalchemy import select

from config.settings import Settings
from persistence.database import Database
from persistence.models import LocalPaymentIntentRecord, OutboxEventRecord
from tests.http.catalog import add_showtime
from tests.http.conftest import Account


@pytest.fixture
def showtime(client: httpx.Client, admin: Account) -> dict[str, Any]:
    return add_showtime(client, admin)


def hold_seats(
    client: httpx.Client, customer: Account, showtime_id: str, seats: list[str]
) -> dict[str, Any]:
    response = client.post(
        f"/api/v1/booking/showtimes/{showtime_id}/holds",
        json={"seats": seats},
        headers=customer.headers,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def order(
    client: httpx.Client, customer: Account, hold_id: str, key: str | None = None
) -> httpx.Response:
    headers = dict(customer.headers)
    headers["Idempotency-Key"] = key or uuid.uuid4().hex
    return client.post(
        "/api/v1/booking/orders", json={"hold_id": hold_id}, headers=headers
    )


def pay(
    client: httpx.Client, customer: Account, intent_id: str, method: str
) -> httpx.Response:
    return client.post(
        f"/api/v1/payments/intents/{intent_id}/confirm",
        json={"payment_method": method},
        headers=customer.headers,
    )


def outbox(http_settings: Settings, order_id: str) -> list[str]:
    database = Database(http_settings.database_url, pool_size=1)
    try:
        with database.sessions.begin() as session:
            events = session.scalars(select(OutboxEventRecord))
            return sorted(
                e.kind for e in events if e.payload.get("order_id") == order_id
            )
    finally:
        database.dispose()


def test_a_paid_order_becomes_a_booking_with_a_ticket_per_seat(
    client: httpx.Client,
    showtime: dict[str, Any],
    new_account: Callable[..., Account],
    http_settings: Settings,
) -> None:
    customer = new_account()
    held = hold_seats(client, customer, showtime["id"], ["B1", "D1"])

    created = order(client, customer, held["hold_id"])
    body = created.json()
    paid = pay(client, customer, body["payment"]["payment_intent_id"], "pm_card_visa")
    after = client.get(
        f"/api/v1/booking/orders/{body['order_id']}", headers=customer.headers
    ).json()
    booking = client.get(
        f"/api/v1/booking/bookings/{after['booking_id']}", headers=customer.headers
    ).json()
    seats = client.get(f"/api/v1/booking/showtimes/{showtime['id']}/seats").json()

    assert created.status_code == 201
    assert body["status"] == "awaiting_payment"
    assert body["amount_cents"] == 1200 + 1800
    assert body["payment"]["provider"] == "local"
    assert body["payment"]["client_secret"]
    assert paid.json()["status"] == "succeeded"
    assert after["status"] == "confirmed"
    assert booking["seats"] == ["B1", "D1"]
    assert booking["status"] == "confirmed"
    assert sorted(t["seat"] for t in booking["tickets"]) == ["B1", "D1"]
    assert len({t["code"] for t in booking["tickets"]}) == 2
    assert seats["rows"][1]["seats"][0]["status"] == "sold"
    assert outbox(http_settings, body["order_id"]) == [
        "booking_confirmed",
        "payment_received",
    ]
    mine = client.get("/api/v1/booking/bookings", headers=customer.headers).json()
    assert [b["booking_id"] for b in mine] == [after["booking_id"]]


def test_a_declined_card_fails_the_order_and_the_customer_can_try_again(
    client: httpx.Client, showtime: dict[str, Any], new_account: Callable[..., Account]
) -> None:
    customer = new_account()
    held = hold_seats(client, customer, showtime["id"], ["C1"])
    first = order(client, customer, held["hold_id"]).json()

    declined = pay(
        client,
        customer,
        first["payment"]["payment_intent_id"],
        "pm_card_chargeDeclined",
    )
    failed = client.get(
        f"/api/v1/booking/orders/{first['order_id']}", headers=customer.headers
    ).json()
    second = order(client, customer, held["hold_id"]).json()
    pay(client, customer, second["payment"]["payment_intent_id"], "pm_card_visa")
    confirmed = client.get(
        f"/api/v1/booking/orders/{second['order_id']}", headers=customer.headers
    ).json()

    assert declined.json()["last_payment_error"] == {"code": "card_declined"}
    assert failed["status"] == "failed"
    assert failed["failure_code"] == "card_declined"
    assert confirmed["status"] == "confirmed"


def test_the_same_order_request_at_once_makes_one_order(
    base_url: str, showtime: dict[str, Any], new_account: Callable[..., Account]
) -> None:
    customer = new_account()
    with httpx.Client(base_url=base_url, timeout=30) as client:
        held = hold_seats(client, customer, showtime["id"], ["A3"])

    def send(_: int) -> httpx.Response:
        with httpx.Client(base_url=base_url, timeout=30) as client:
            return order(client, customer, held["hold_id"], key="same-key")

    with concurrent.futures.ThreadPoolExecutor(max_workers=3) as pool:
        at_once = list(pool.map(send, range(3)))
    retried = send(0)

    answers = [response.json() for response in [*at_once, retried]]
    assert {response.status_code for response in [*at_once, retried]} == {201}
    assert len({answer["order_id"] for answer in answers}) == 1
    assert len({answer["payment"]["payment_intent_id"] for answer in answers}) == 1


def test_one_key_for_two_different_orders_is_a_conflict(
    client: httpx.Client, showtime: dict[str, Any], new_account: Callable[..., Account]
) -> None:
    customer = new_account()
    first = hold_seats(client, customer, showtime["id"], ["A5"])
    order(client, customer, first["hold_id"], key="reused")

    other = order(client, customer, "another-hold-id", key="reused")
    missing = client.post(
        "/api/v1/booking/orders",
        json={"hold_id": first["hold_id"]},
        headers=customer.headers,
    )

    assert other.status_code == 409
    assert other.json()["code"] == "idempotency_conflict"
    assert missing.status_code == 422


def test_a_hold_gets_one_live_order(
    client: httpx.Client, showtime: dict[str, Any], new_account: Callable[..., Account]
) -> None:
    customer = new_account()
    held = hold_seats(client, customer, showtime["id"], ["A6"])
    first = order(client, customer, held["hold_id"]).json()

    second = order(client, customer, held["hold_id"])

    assert second.status_code == 409
    assert second.json()["code"] == "hold_already_ordered"
    assert second.json()["order_id"] == first["order_id"]


def test_a_payment_for_a_hold_that_is_gone_is_refunded(
    client: httpx.Client,
    admin: Account,
    showtime: dict[str, Any],
    new_account: Callable[..., Account],
    http_settings: Settings,
) -> None:
    customer = new_account()
    held = hold_seats(client, customer, showtime["id"], ["A7"])
    created = order(client, customer, held["hold_id"]).json()
    client.post(
        f"/api/v1/catalog/showtimes/{showtime['id']}/cancel", headers=admin.headers
    )

    pay(client, customer, created["payment"]["payment_intent_id"], "pm_card_visa")
    after = client.get(
        f"/api/v1/booking/orders/{created['order_id']}", headers=customer.headers
    ).json()

    assert after["status"] == "refunded"
    assert after["booking_id"] is None
    assert outbox(http_settings, created["order_id"]) == ["refund_issued"]
    database = Database(http_settings.database_url, pool_size=1)
    with database.sessions.begin() as session:
        intent = session.get(
            LocalPaymentIntentRecord, created["payment"]["payment_intent_id"]
        )
        assert intent is not None
        assert intent.amount_refunded == intent.amount
    database.dispose()


def test_other_customers_orders_bookings_and_payments_are_not_found(
    client: httpx.Client, showtime: dict[str, Any], new_account: Callable[..., Account]
) -> None:
    owner, mallory = new_account(), new_account()
    held = hold_seats(client, owner, showtime["id"], ["A8"])
    created = order(client, owner, held["hold_id"]).json()
    intent_id = created["payment"]["payment_intent_id"]

    stolen_order = order(client, mallory, held["hold_id"])
    stolen_pay = pay(client, mallory, intent_id, "pm_card_visa")
    pay(client, owner, intent_id, "pm_card_visa")
    booking_id = client.get(
        f"/api/v1/booking/orders/{created['order_id']}", headers=owner.headers
    ).json()["booking_id"]

    assert stolen_order.status_code == 404
    assert stolen_pay.status_code == 404
    for path in (
        f"/api/v1/booking/orders/{created['order_id']}",
        f"/api/v1/booking/bookings/{booking_id}",
        "/api/v1/booking/orders/made-up",
        "/api/v1/booking/bookings/made-up",
    ):
        assert client.get(path, headers=mallory.headers).status_code == 404, path
    assert client.get("/api/v1/booking/bookings", headers=mallory.headers).json() == []


def paid_booking(
    client: httpx.Client, customer: Account, showtime_id: str, seats: list[str]
) -> dict[str, Any]:
    held = hold_seats(client, customer, showtime_id, seats)
    created = order(client, customer, held["hold_id"]).json()
    pay(client, customer, created["payment"]["payment_intent_id"], "pm_card_visa")
    booking_id = client.get(
        f"/api/v1/booking/orders/{created['order_id']}", headers=customer.headers
    ).json()["booking_id"]
    booking: dict[str, Any] = client.get(
        f"/api/v1/booking/bookings/{booking_id}", headers=customer.headers
    ).json()
    booking["order_id"] = created["order_id"]
    return booking


def check_in(
    client: httpx.Client, staff: Account, code: str, showtime_id: str | None = None
) -> httpx.Response:
    return client.post(
        "/api/v1/booking/checkin",
        json={"code": code, "showtime_id": showtime_id},
        headers=staff.headers,
    )


def test_a_ticket_admits_once_and_a_second_scan_says_when(
    client: httpx.Client,
    admin: Account,
    showtime: dict[str, Any],
    new_account: Callable[..., Account],
) -> None:
    booking = paid_booking(client, new_account(), showtime["id"], ["C5"])
    code = booking["tickets"][0]["code"]

    first = check_in(client, admin, code, showtime["id"])
    second = check_in(client, admin, code, showtime["id"])

    assert first.status_code == 200
    assert first.json()["seat"] == "C5"
    assert second.status_code == 409
    assert second.json()["code"] == "already_admitted"
    assert second.json()["admitted_at"] == first.json()["admitted_at"].replace(
        "Z", "+00:00"
    )


def test_forged_and_other_showtime_codes_are_refused_distinctly(
    client: httpx.Client,
    admin: Account,
    showtime: dict[str, Any],
    new_account: Callable[..., Account],
) -> None:
    booking = paid_booking(client, new_account(), showtime["id"], ["C6"])
    code = booking["tickets"][0]["code"]
    ticket_id, _, mac = code.partition(".")

    forged = check_in(client, admin, f"{ticket_id}.{mac[::-1]}")
    made_up = check_in(client, admin, "not-a-ticket")
    elsewhere = check_in(client, admin, code, "another-showtime")

    assert forged.json()["code"] == made_up.json()["code"] == "ticket_forged"
    assert elsewhere.json()["code"] == "wrong_showtime"
    # Refused at the wrong door, the ticket still admits at the right one.
    assert check_in(client, admin, code, showtime["id"]).status_code == 200


def test_customers_cannot_check_tickets_in(
    client: httpx.Client, showtime: dict[str, Any], new_account: Callable[..., Account]
) -> None:
    customer = new_account()
    booking = paid_booking(client, customer, showtime["id"], ["C7"])

    response = check_in(client, customer, booking["tickets"][0]["code"])

    assert response.status_code == 403


def test_cancelling_a_booking_refunds_it_and_its_ticket_stops_working(
    client: httpx.Client,
    admin: Account,
    showtime: dict[str, Any],
    new_account: Callable[..., Account],
    http_settings: Settings,
) -> None:
    customer = new_account()
    booking = paid_booking(client, customer, showtime["id"], ["C7", "C8"])

    cancelled = client.post(
        f"/api/v1/booking/bookings/{booking['booking_id']}/cancel",
        headers=customer.headers,
    )
    again = client.post(
        f"/api/v1/booking/bookings/{booking['booking_id']}/cancel",
        headers=customer.headers,
    )
    scan = check_in(client, admin, booking["tickets"][0]["code"])
    order_after = client.get(
        f"/api/v1/booking/orders/{booking['order_id']}", headers=customer.headers
    ).json()
    seats = client.get(f"/api/v1/booking/showtimes/{showtime['id']}/seats").json()

    assert cancelled.status_code == 200
    assert cancelled.json() == {
        "booking_id": booking["booking_id"],
        "status": "cancelled",
        "refund": {"amount_cents": 2400, "status": "succeeded"},
    }
    assert again.json()["refund"] == cancelled.json()["refund"]
    assert scan.json()["code"] == "ticket_cancelled"
    assert order_after["status"] == "refunded"
    assert seats["rows"][2]["seats"][7]["status"] == "free"
    assert outbox(http_settings, booking["order_id"]) == [
        "booking_cancelled",
        "booking_confirmed",
        "payment_received",
        "refund_issued",
    ]


def test_customers_cannot_cancel_close_to_the_showtime(
    client: httpx.Client, admin: Account, new_account: Callable[..., Account]
) -> None:
    soon = add_showtime(client, admin, starts_in=timedelta(minutes=30))
    customer = new_account()
    booking = paid_booking(client, customer, soon["id"], ["A1"])

    by_customer = client.post(
        f"/api/v1/booking/bookings/{booking['booking_id']}/cancel",
        headers=customer.headers,
    )
    by_staff = client.post(
        f"/api/v1/booking/bookings/{booking['booking_id']}/cancel",
        headers=admin.headers,
    )

    assert by_customer.status_code == 409
    assert by_customer.json()["code"] == "cancellation_closed"
    assert by_staff.status_code == 200


def test_staff_cancelling_a_showtime_refunds_every_booking(
    client: httpx.Client,
    admin: Account,
    showtime: dict[str, Any],
    new_account: Callable[..., Account],
    http_settings: Settings,
) -> None:
    first = paid_booking(client, new_account(), showtime["id"], ["B5"])
    second = paid_booking(client, new_account(), showtime["id"], ["B6", "B7"])

    cancelled = client.post(
        f"/api/v1/catalog/showtimes/{showtime['id']}/cancel", headers=admin.headers
    )
    seats = client.get(f"/api/v1/booking/showtimes/{showtime['id']}/seats").json()

    assert cancelled.status_code == 200
    assert all(
        seat["status"] == "free" for row in seats["rows"] for seat in row["seats"]
    )
    for booking in (first, second):
        assert "refund_issued" in outbox(http_settings, booking["order_id"])
        scan = check_in(client, admin, booking["tickets"][0]["code"])
        assert scan.json()["code"] == "ticket_cancelled"


def test_a_ticket_code_is_served_as_a_qr_image(
    client: httpx.Client, showtime: dict[str, Any], new_account: Callable[..., Account]
) -> None:
    customer = new_account()
    booking = paid_booking(client, customer, showtime["id"], ["D4"])
    path = f"/api/v1/booking/bookings/{booking['booking_id']}/tickets/D4/qr"

    image = client.get(path, headers=customer.headers)
    other = client.get(path, headers=new_account().headers)

    expected = io.BytesIO()
    segno.make(booking["tickets"][0]["code"], error="m").save(
        expected, kind="png", scale=6, border=4
    )
    assert image.status_code == 200
    assert image.headers["content-type"] == "image/png"
    assert image.content == expected.getvalue()
    assert other.status_code == 404


def test_a_kiosk_api_key_checks_tickets_in(
    client: httpx.Client,
    admin: Account,
    showtime: dict[str, Any],
    new_account: Callable[..., Account],
) -> None:
    booking = paid_booking(client, new_account(), showtime["id"], ["D5"])
    kiosk = client.post(
        "/api/v1/users/api-keys",
        json={"name": "door 3", "client_kind": "kiosk"},
        headers=admin.headers,
    ).json()

    admitted = client.post(
        "/api/v1/booking/checkin",
        json={"code": booking["tickets"][0]["code"]},
        headers={"X-API-Key": kiosk["key"]},
    )

    assert admitted.status_code == 200
    assert admitted.json()["seat"] == "D5"
