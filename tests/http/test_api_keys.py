"""Partner and kiosk API keys: issued once, stored hashed, revoked, rotated."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from tests.http.conftest import Account


def issue(client: httpx.Client, admin: Account, kind: str = "kiosk") -> dict[str, str]:
    response = client.post(
        "/api/v1/users/api-keys",
        json={"name": f"{kind} at the door", "client_kind": kind},
        headers=admin.headers,
    )
    assert response.status_code == 201, response.text
    body: dict[str, str] = response.json()
    return body


def authenticates(client: httpx.Client, key: str) -> int:
    """Status of a call that needs authentication, made with the key."""
    return client.get("/api/v1/booking/holds", headers={"X-API-Key": key}).status_code


def test_an_issued_key_authenticates_and_is_listed_without_its_secret(
    client: httpx.Client, admin: Account
) -> None:
    issued = issue(client, admin)

    listed = client.get("/api/v1/users/api-keys", headers=admin.headers).json()

    assert authenticates(client, issued["key"]) == 200
    entry = next(item for item in listed if item["id"] == issued["id"])
    assert entry["roles"] == ["kiosk"]
    assert "key" not in entry
    assert issued["key"] not in str(listed)


def test_a_revoked_key_stops_working(client: httpx.Client, admin: Account) -> None:
    issued = issue(client, admin, "partner")

    revoked = client.delete(
        f"/api/v1/users/api-keys/{issued['id']}", headers=admin.headers
    )

    assert revoked.status_code == 204
    assert authenticates(client, issued["key"]) == 401


def test_a_rotated_key_keeps_working_for_the_grace_period(
    client: httpx.Client, admin: Account
) -> None:
    old = issue(client, admin)

    rotated = client.post(
        f"/api/v1/users/api-keys/{old['id']}/rotate", headers=admin.headers
    )

    new = rotated.json()
    assert rotated.status_code == 201
    assert new["key"] != old["key"]
    assert authenticates(client, new["key"]) == 200
    assert authenticates(client, old["key"]) == 200
    listed = client.get("/api/v1/users/api-keys", headers=admin.headers).json()
    assert next(i for i in listed if i["id"] == old["id"])["expires_at"] is not None


def test_made_up_keys_and_customers_get_nowhere(
    client: httpx.Client, new_account: Callable[..., Account]
) -> None:
    customer = new_account()

    assert authenticates(client, "mqk_made-up") == 401
    as_customer = client.post(
        "/api/v1/users/api-keys",
        json={"name": "mine", "client_kind": "partner"},
        headers=customer.headers,
    )
    assert as_customer.status_code == 403
    unknown = client.delete("/api/v1/users/api-keys/nope", headers=customer.headers)
    assert unknown.status_code == 403
