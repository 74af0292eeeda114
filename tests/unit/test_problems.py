from __future__ import annotations

import json

import pytest

from actors import errors
from serve.http.problems import problem_response, status_for


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (errors.UnknownSeat(["Z1"], "s"), 422),
        (errors.ValidationFailed("bad"), 422),
        (errors.PayloadTooLarge("big"), 413),
        (errors.MethodNotAllowed("no"), 405),
        (errors.RequestIdConflict("again"), 409),
        (errors.SeatUnavailable(["A1"], "s"), 409),
        (errors.SalesClosed("late"), 409),
        (errors.HoldNotFound("gone"), 404),
        (errors.NotAuthenticated("who"), 401),
        (errors.InvalidCredentials("no"), 401),
        (errors.Forbidden("no"), 403),
        (errors.RateLimited("slow down", retry_after_s=7), 429),
        (errors.CommitFailed("later"), 503),
        (errors.ShowtimeUnavailable("later"), 503),
    ],
)
def test_each_kind_of_error_maps_to_one_status(
    error: errors.MarqueeError, status: int
) -> None:
    assert status_for(error) == status


def test_a_problem_carries_its_code_ids_and_retry_after() -> None:
    response = problem_response(errors.RateLimited("slow down", retry_after_s=7))

    body = json.loads(response.body)
    assert response.status_code == 429
    assert response.headers["retry-after"] == "7"
    assert response.media_type == "application/problem+json"
    assert body == {
        "type": "urn:marquee:problem:rate_limited",
        "title": "Too many requests",
        "status": 429,
        "detail": "slow down",
        "code": "rate_limited",
        "retry_after_s": 7,
    }


def test_unavailable_errors_say_when_to_retry() -> None:
    response = problem_response(errors.CommitFailed("try again"))

    assert response.headers["retry-after"] == "1"
