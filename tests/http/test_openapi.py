"""Every application's OpenAPI document is valid and declares its errors."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from openapi_spec_validator import validate

PREFIXES = [
    "/api/v1/users",
    "/api/v1/catalog",
    "/api/v1/booking",
    "/api/v1/payments",
    "/readyz",
]
METHODS = {"get", "post", "put", "patch", "delete"}


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


@pytest.mark.parametrize("prefix", PREFIXES)
def test_the_openapi_document_is_valid(client: httpx.Client, prefix: str) -> None:
    document = client.get(f"{prefix}/openapi.json").json()

    validate(document)
    assert operations(document)


@pytest.mark.parametrize("prefix", PREFIXES[:4])
def test_every_operation_declares_its_result_and_problem_responses(
    client: httpx.Client, prefix: str
) -> None:
    document = client.get(f"{prefix}/openapi.json").json()

    for path, method, operation in operations(document):
        responses = operation["responses"]
        where = f"{method.upper()} {path}"
        successes = [code for code in responses if code.startswith("2")]
        assert successes, where
        for code in successes:
            if code == "204":
                continue
            content = responses[code]["content"]
            assert content, where
            if "application/json" in content:
                assert content["application/json"]["schema"], where
        if path.endswith("/healthz"):
            continue
        assert "422" in responses, where
        for code, response in responses.items():
            if code.startswith(("4", "5")):
                assert "application/problem+json" in response["content"], where
