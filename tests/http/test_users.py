"""Sign-up, tokens and `me` over HTTP."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from tests.http.conftest import Account, log_in


def test_a_customer_registers_logs_in_and_reads_their_account(
    client: httpx.Client, new_account: Callable[..., Account]
) -> None:
    account = new_account("ada")

    me = client.get("/api/v1/users/me", headers=account.headers)

    assert me.status_code == 200
    assert me.json() == {
        "id": account.user_id,
        "email": account.email,
        "display_name": "ada",
        "roles": ["customer"],
    }


def test_token_response_follows_oauth2(
    client: httpx.Client, new_account: Callable[..., Account]
) -> None:
    account = new_account()

    response = log_in(client, account.email, account.password)

    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] > 0
    assert body["access_token"] != body["refresh_token"]


def test_registering_an_email_twice_is_email_taken(
    client: httpx.Client, new_account: Callable[..., Account]
) -> None:
    account = new_account()

    again = client.post(
        "/api/v1/users",
        json={
            "email": account.email.upper(),
            "password": "another long password",
            "display_name": "copy",
        },
    )

    assert again.status_code == 409
    assert again.json()["code"] == "email_taken"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (
            {
                "email": "not-an-email",
                "password": "long enough pw",
                "display_name": "x",
            },
            "body.email",
        ),
        (
            {"email": "a@example.com", "password": "short", "display_name": "x"},
            "body.password",
        ),
        ({"email": "a@example.com", "password": "long enough pw"}, "body.display_name"),
    ],
)
def test_invalid_sign_ups_name_the_field(
    client: httpx.Client, body: dict[str, str], field: str
) -> None:
    response = client.post("/api/v1/users", json=body)

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == "validation_failed"
    assert problem["errors"][0]["field"] == field


def test_a_wrong_password_is_invalid_credentials(
    client: httpx.Client, new_account: Callable[..., Account]
) -> None:
    account = new_account()

    wrong = log_in(client, account.email, "not the password")
    unknown = log_in(client, "nobody@example.com", "whatever it is")

    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["code"] == unknown.json()["code"] == "invalid_credentials"
    assert wrong.headers["www-authenticate"] == "Bearer"


def test_a_refresh_token_is_spent_on_use_and_a_reuse_ends_the_session(
    client: httpx.Client, new_account: Callable[..., Account]
) -> None:
    account = new_account()

    first = client.post(
        "/api/v1/users/token",
        data={"grant_type": "refresh_token", "refresh_token": account.refresh_token},
    )
    replay = client.post(
        "/api/v1/users/token",
        data={"grant_type": "refresh_token", "refresh_token": account.refresh_token},
    )
    after_replay = client.post(
        "/api/v1/users/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": first.json()["refresh_token"],
        },
    )

    assert first.status_code == 200
    assert (
        client.get(
            "/api/v1/users/me",
            headers={"Authorization": f"Bearer {first.json()['access_token']}"},
        ).status_code
        == 200
    )
    assert replay.status_code == 401
    # The replay revoked every refresh token of the user, the new one included.
    assert after_replay.status_code == 401


def test_an_unknown_grant_type_is_refused(client: httpx.Client) -> None:
    response = client.post("/api/v1/users/token", data={"grant_type": "magic"})

    assert response.status_code == 422
    assert response.json()["code"] == "validation_failed"


def test_logins_for_one_account_are_rate_limited(
    client: httpx.Client, new_account: Callable[..., Account]
) -> None:
    account = new_account()  # One login spent already.

    # Windows are fixed minutes, so a boundary may reset the count once; 25
    # attempts reach the limit of 10 in one window or the next either way.
    statuses = []
    for _ in range(25):
        response = log_in(client, account.email, "wrong guess!")
        statuses.append(response.status_code)
        if response.status_code == 429:
            break

    assert statuses[-1] == 429
    assert set(statuses[:-1]) == {401}
    assert len(statuses) >= 10
    assert int(response.headers["retry-after"]) >= 1
    assert response.json()["code"] == "rate_limited"


def test_the_admin_from_settings_exists_with_every_role(
    client: httpx.Client, admin: Account
) -> None:
    me = client.get("/api/v1/users/me", headers=admin.headers)

    assert sorted(me.json()["roles"]) == ["admin", "customer", "staff"]


def test_an_admin_makes_a_customer_staff(
    client: httpx.Client, admin: Account, new_account: Callable[..., Account]
) -> None:
    account = new_account()

    response = client.put(
        f"/api/v1/users/{account.user_id}/roles",
        json={"roles": ["customer", "staff"]},
        headers=admin.headers,
    )
    relogged = log_in(client, account.email, account.password).json()
    me = client.get(
        "/api/v1/users/me",
        headers={"Authorization": f"Bearer {relogged['access_token']}"},
    )

    assert response.status_code == 200
    assert me.json()["roles"] == ["customer", "staff"]


def test_a_customer_cannot_change_roles(
    client: httpx.Client, new_account: Callable[..., Account]
) -> None:
    account = new_account()

    response = client.put(
        f"/api/v1/users/{account.user_id}/roles",
        json={"roles": ["admin"]},
        headers=account.headers,
    )

    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
