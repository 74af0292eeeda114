"""What an attacker might try: forged tokens, other people's ids, extra fields."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from typing import Any

import httpx
import jwt
import pytest
from jwt.warnings import InsecureKeyLengthWarning

from config.settings import Settings
from tests.http.catalog import add_showtime
from tests.http.conftest import Account


def forge(settings: Settings, account: Account, **changes: Any) -> str:
    """A token like the real one, with `changes` applied to claims or header."""
    kid, secret = settings.signing_keys()[0]
    claims = jwt.decode(account.access_token, options={"verify_signature": False})
    header = {"kid": changes.pop("kid", kid)}
    secret = changes.pop("secret", secret)
    algorithm = changes.pop("algorithm", "HS256")
    claims.update(changes)
    claims = {key: value for key, value in claims.items() if value is not None}
    with warnings.catch_warnings():
        # HS512 wants a longer key than the development one; the forger's
        # problem, not the server's.
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)
        return jwt.encode(claims, secret, algorithm=algorithm, headers=header)


def unsigned(account: Account) -> str:
    claims = jwt.decode(account.access_token, options={"verify_signature": False})
    return jwt.encode(claims, key=None, algorithm="none")


@pytest.mark.parametrize(
    "tampering",
    [
        {"secret": "x" * 40},
        {"exp": int(time.time()) - 10},
        {"nbf": int(time.time()) + 600},
        {"aud": "someone-else"},
        {"iss": "evil"},
        {"kid": "retired-or-unknown"},
        {"typ": "refresh"},
        {"roles": "admin"},
        {"exp": None},
        {"algorithm": "HS512"},
    ],
    ids=[
        "wrong-signature", "expired", "not-yet-valid", "wrong-audience",
        "wrong-issuer", "unknown-kid", "wrong-type", "roles-not-a-list",
        "no-expiry", "other-algorithm",
    ],
)  # fmt: skip
def test_tampered_tokens_are_refused(
    client: httpx.Client,
    http_settings: Settings,
    new_account: Callable[..., Account],
    tampering: dict[str, Any],
) -> None:
    token = forge(http_settings, new_account(), **tampering)

    response = client.get(
        "/api/v1/users/me", headers={"Authorization": f"Bearer {token}"}
    )

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_an_unsigned_token_is_refused(
    client: httpx.Client, new_account: Callable[..., Account]
) -> None:
    token = unsigned(new_account())

    response = client.get(
        "/api/v1/users/me", headers={"Authorization": f"Bearer {token}"}
    )

    assert response.status_code == 401


def test_a_refresh_token_is_not_an_access_token(
    client: httpx.Client, new_account: Callable[..., Account]
) -> None:
    account = new_account()

    response = client.get(
        "/api/v1/users/me",
        headers={"Authorization": f"Bearer {account.refresh_token}"},
    )
    swapped = client.post(
        "/api/v1/users/token",
        data={"grant_type": "refresh_token", "refresh_token": account.access_token},
    )

    assert response.status_code == 401
    assert swapped.status_code == 401


def test_another_customers_hold_is_not_found_everywhere(
    client: httpx.Client, admin: Account, new_account: Callable[..., Account]
) -> None:
    showtime = add_showtime(client, admin)
    owner, mallory = new_account(), new_account()
    held = client.post(
        f"/api/v1/booking/showtimes/{showtime['id']}/holds",
        json={"seats": ["A1"]},
        headers=owner.headers,
    ).json()

    for hold_id in (held["hold_id"], "made-up-hold-id"):
        read = client.get(f"/api/v1/booking/holds/{hold_id}", headers=mallory.headers)
        delete = client.delete(
            f"/api/v1/booking/holds/{hold_id}", headers=mallory.headers
        )

        assert read.status_code == delete.status_code == 404
        assert read.json()["code"] == delete.json()["code"] == "hold_not_found"
    mine = client.get("/api/v1/booking/holds", headers=mallory.headers).json()
    assert mine == []
    still = client.get(
        f"/api/v1/booking/holds/{held['hold_id']}", headers=owner.headers
    )
    assert still.json()["status"] == "active"


@pytest.mark.parametrize(
    "body",
    [{"count": 1}, {"count": 1, "seats": ["A1"]}, {"customer_id": "someone"}],
    ids=["valid", "invalid", "unknown-field"],
)
def test_holds_need_an_authenticated_customer(
    client: httpx.Client, admin: Account, body: dict[str, object]
) -> None:
    showtime = add_showtime(client, admin)

    response = client.post(
        f"/api/v1/booking/showtimes/{showtime['id']}/holds", json=body
    )

    # Whoever is not signed in learns nothing else, not even about the body.
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (
            "/api/v1/users",
            {"email": "m@example.com", "password": "long enough pw",
             "display_name": "m", "roles": ["admin"]},
        ),
        (
            "/api/v1/users",
            {"email": "m2@example.com", "password": "long enough pw",
             "display_name": "m", "id": "chosen-id"},
        ),
    ],
)  # fmt: skip
def test_a_client_cannot_set_roles_or_ids_through_a_body(
    client: httpx.Client, path: str, body: dict[str, Any]
) -> None:
    response = client.post(path, json=body)

    assert response.status_code == 422
    assert response.json()["code"] == "validation_failed"


def test_staff_cannot_be_given_prices_or_status_they_did_not_set(
    client: httpx.Client, admin: Account
) -> None:
    response = client.post(
        "/api/v1/catalog/movies",
        json={"title": "T", "runtime_min": 90, "rating": "G", "id": "mine"},
        headers=admin.headers,
    )
    showtime = add_showtime(client, admin)
    patched = client.patch(
        f"/api/v1/catalog/movies/{showtime['movie_id']}",
        json={"created_at": "2000-01-01T00:00:00Z"},
        headers=admin.headers,
    )

    assert response.status_code == patched.status_code == 422


def test_errors_never_leak_internals_and_carry_security_headers(
    client: httpx.Client,
) -> None:
    response = client.get("/api/v1/catalog/no-such-endpoint")

    assert response.status_code == 404
    assert response.json()["code"] == "route_not_found"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert "traceback" not in response.text.lower()


def test_a_request_id_is_echoed_or_made_up(client: httpx.Client) -> None:
    given = client.get("/api/v1/users/healthz", headers={"X-Request-ID": "trace-42"})
    made = client.get("/api/v1/users/healthz")

    assert given.headers["x-request-id"] == "trace-42"
    assert made.headers["x-request-id"]


def test_oversized_bodies_are_refused(client: httpx.Client) -> None:
    response = client.post(
        "/api/v1/users",
        content=b"{" + b" " * 70_000 + b"}",
        headers={"content-type": "application/json"},
    )

    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"


def test_made_up_showtime_ids_start_no_actor(
    client: httpx.Client, new_account: Callable[..., Account]
) -> None:
    import ray

    customer = new_account()
    made_up = [f"made-up-{n}-{time.time_ns()}" for n in range(3)]

    for showtime_id in made_up:
        seats = client.get(f"/api/v1/booking/showtimes/{showtime_id}/seats")
        held = client.post(
            f"/api/v1/booking/showtimes/{showtime_id}/holds",
            json={"count": 1},
            headers=customer.headers,
        )
        assert seats.status_code == held.status_code == 404

    names = {entry["name"] for entry in ray.util.list_named_actors(all_namespaces=True)}
    assert not {f"showtime:{showtime_id}" for showtime_id in made_up} & names
