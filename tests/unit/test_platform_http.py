"""The shared HTTP layer in-process: CORS, body limits, request ids."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from config.settings import Settings
from serve.http.platform import Platform, create_app


@pytest.fixture
def app_client(tmp_path: Path) -> httpx.AsyncClient:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'unused.db'}",
        cors_allow_origins="https://tickets.example",
        max_request_body_bytes=2048,
    )
    app = create_app(
        Platform(settings),
        title="t",
        description="d",
        route_prefix="/api/v1/test",
        behind_serve=False,
    )

    @app.post("/echo")
    async def echo(body: dict[str, str]) -> dict[str, str]:
        return body

    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    )


def test_cors_admits_only_listed_origins(app_client: httpx.AsyncClient) -> None:
    async def preflight(origin: str) -> httpx.Response:
        return await app_client.options(
            "/echo",
            headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
        )

    allowed = asyncio.run(preflight("https://tickets.example"))
    refused = asyncio.run(preflight("https://evil.example"))

    assert allowed.headers["access-control-allow-origin"] == "https://tickets.example"
    assert "access-control-allow-origin" not in refused.headers


def test_a_streamed_body_over_the_limit_is_refused(
    app_client: httpx.AsyncClient,
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b" " * 512

    async def send() -> httpx.Response:
        return await app_client.post(
            "/echo", content=chunks(), headers={"content-type": "application/json"}
        )

    response = asyncio.run(send())

    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"


def test_a_request_id_is_kept_when_sane_and_replaced_when_not(
    app_client: httpx.AsyncClient,
) -> None:
    async def health(request_id: str) -> httpx.Response:
        return await app_client.get("/healthz", headers={"X-Request-ID": request_id})

    kept = asyncio.run(health("abc-123"))
    replaced = asyncio.run(health("bad id\twith spaces"))

    assert kept.headers["x-request-id"] == "abc-123"
    assert replaced.headers["x-request-id"] != "bad id\twith spaces"
    assert len(replaced.headers["x-request-id"]) == 32
