from __future__ import annotations

import httpx


def test_every_application_answers_its_health_check(client: httpx.Client) -> None:
    for prefix in (
        "/api/v1/users",
        "/api/v1/catalog",
        "/api/v1/booking",
        "/api/v1/payments",
    ):
        response = client.get(f"{prefix}/healthz")

        assert response.status_code == 200, prefix
        assert response.json() == {"status": "ok"}


def test_readyz_reports_every_dependency(client: httpx.Client) -> None:
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json()["checks"] == {
        "database": "ok",
        "redis": "not configured",
        "booking": "ok",
    }
