"""The caller read by hand (busiest routes) and as a FastAPI dependency agree."""

# No `from __future__ import annotations`: FastAPI must see the dependency in
# the route's signature, which is built inside a function.
import asyncio
from typing import Annotated

import httpx
import pytest
from fastapi import Depends, FastAPI, Request

from serve.http.auth import Authenticator, Principal, PrincipalKind, TokenService
from serve.http.problems import install_problem_handlers

KEY = "k" * 40
SECRET = "test-signing-key-" * 3


def tokens() -> TokenService:
    return TokenService(
        [("k1", SECRET)],
        issuer="marquee",
        audience="marquee",
        access_ttl_s=60,
        refresh_ttl_s=60,
    )


async def resolve_api_key(key: str) -> Principal | None:
    if key != KEY:
        return None
    return Principal(
        subject_id="kiosk-1", kind=PrincipalKind.API_KEY, roles=frozenset({"kiosk"})
    )


def both_ways(limited: list[str]) -> httpx.AsyncClient:
    """Two routes, one reading the caller each way; callers limited are noted."""

    async def limit(principal: Principal) -> None:
        limited.append(principal.subject_id)

    authenticator = Authenticator(tokens(), resolve_api_key, limit)
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/dependency")
    async def by_dependency(
        caller: Annotated[Principal, Depends(authenticator.dependency())],
    ) -> str:
        return caller.subject_id

    @app.get("/by-hand")
    async def by_hand(request: Request) -> str:
        return (await authenticator.caller(request)).subject_id

    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    )


ACCESS = tokens().issue_access("alice", ["customer"]).token
REFRESH = tokens().issue_refresh("alice").token


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": f"Bearer {ACCESS}"},
        {"Authorization": f"bearer   {ACCESS}  "},
        {"Authorization": f"Basic {ACCESS}"},
        {"Authorization": "Bearer"},
        {"Authorization": f"Bearer {REFRESH}"},
        {"Authorization": f"Bearer {ACCESS[:-2]}xx"},
        {"X-API-Key": KEY},
        {"X-API-Key": "not-a-key"},
        {"X-API-Key": ""},
        {"Authorization": f"Bearer {ACCESS}", "X-API-Key": KEY},
        {},
    ],
    ids=lambda headers: ",".join(f"{k}={v[:12]}" for k, v in headers.items()),
)
def test_both_ways_of_reading_the_caller_give_the_same_answer(
    headers: dict[str, str],
) -> None:
    async def ask() -> list[tuple[int, str, list[str]]]:
        answers = []
        for path in ("/dependency", "/by-hand"):
            limited: list[str] = []
            async with both_ways(limited) as client:
                response = await client.get(path, headers=headers)
            answers.append((response.status_code, response.text, limited))
        return answers

    by_dependency, by_hand = asyncio.run(ask())

    # Same answer, and the same caller counted against the general rate limit.
    assert by_hand == by_dependency
    assert by_dependency[0] in (200, 401)
    assert by_dependency[2] == (
        [] if by_dependency[0] == 401 else [by_dependency[1].strip('"')]
    )
