from __future__ import annotations

import pytest

from actors.errors import NotAuthenticated
from serve.http.auth import TokenService

OLD = ("2026-01", "o" * 40)
NEW = ("2026-07", "n" * 40)


def service(*keys: tuple[str, str], now: float = 1_800_000_000) -> TokenService:
    return TokenService(
        list(keys),
        issuer="marquee",
        audience="marquee-api",
        access_ttl_s=900,
        refresh_ttl_s=3600,
        clock=lambda: now,
    )


def test_tokens_signed_with_a_rotated_out_key_still_verify_until_it_is_removed() -> (
    None
):
    before_rotation = service(OLD).issue_access("u1", ["customer"]).token

    after_rotation = service(NEW, OLD)
    retired = service(NEW)

    assert after_rotation.verify_access(before_rotation).subject_id == "u1"
    with pytest.raises(NotAuthenticated, match="unknown key"):
        retired.verify_access(before_rotation)


def test_new_tokens_are_signed_with_the_newest_key() -> None:
    import jwt

    token = service(NEW, OLD).issue_access("u1", ["customer"]).token

    assert jwt.get_unverified_header(token)["kid"] == NEW[0]


def test_access_and_refresh_tokens_are_not_interchangeable() -> None:
    tokens = service(NEW)
    access = tokens.issue_access("u1", ["customer"]).token
    refresh = tokens.issue_refresh("u1").token

    with pytest.raises(NotAuthenticated):
        tokens.verify_access(refresh)
    with pytest.raises(NotAuthenticated):
        tokens.verify_refresh(access)


def test_an_expired_token_is_refused() -> None:
    token = service(NEW, now=1_800_000_000).issue_access("u1", []).token

    with pytest.raises(NotAuthenticated, match="expired"):
        service(NEW, now=1_800_000_000 + 901).verify_access(token)


def test_a_remembered_token_is_still_refused_once_it_expires() -> None:
    clock = [1_800_000_000.0]
    tokens = TokenService(
        [NEW],
        issuer="marquee",
        audience="marquee-api",
        access_ttl_s=900,
        refresh_ttl_s=3600,
        clock=lambda: clock[0],
    )
    token = tokens.issue_access("u1", ["customer"]).token
    assert tokens.verify_access(token).subject_id == "u1"
    assert tokens.verify_access(token).subject_id == "u1"  # remembered

    clock[0] += 901
    with pytest.raises(NotAuthenticated, match="expired"):
        tokens.verify_access(token)


def test_a_tampered_token_is_refused_even_after_the_genuine_one_was_seen() -> None:
    tokens = service(NEW)
    token = tokens.issue_access("u1", ["customer"]).token
    tokens.verify_access(token)
    header, payload, signature = token.split(".")
    forged = ".".join((header, payload, signature[::-1]))

    with pytest.raises(NotAuthenticated):
        tokens.verify_access(forged)
