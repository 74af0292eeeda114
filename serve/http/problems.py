"""RFC 9457 problem details: the one place that maps error codes to HTTP.

Every error a client sees is `application/problem+json` with `type`, `title`,
`status`, `detail`, a stable `code` and the ids involved. Stack traces never
leave the process; they go to the log with the request id.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException

from actors import errors
from actors.errors import MarqueeError

logger = logging.getLogger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_TYPE_PREFIX = "urn:marquee:problem:"
RETRY_AFTER_UNAVAILABLE_S = 1

# Most specific first: the first class an error is an instance of decides.
_STATUS_BY_CLASS: tuple[tuple[type[MarqueeError], int], ...] = (
    (errors.PayloadTooLarge, 413),
    (errors.MethodNotAllowed, 405),
    (errors.InvalidSignature, 400),
    (errors.RequestIdConflict, 409),
    (errors.InvalidRequest, 422),
    (errors.Conflict, 409),
    (errors.NotFound, 404),
    (errors.NotAuthenticated, 401),
    (errors.Forbidden, 403),
    (errors.RateLimited, 429),
    (errors.Unavailable, 503),
)


def status_for(error: MarqueeError) -> int:
    for error_type, status in _STATUS_BY_CLASS:
        if isinstance(error, error_type):
            return status
    return 500


def problem_body(error: MarqueeError, status: int) -> dict[str, Any]:
    return {
        "type": f"{PROBLEM_TYPE_PREFIX}{error.code}",
        "title": error.title,
        "status": status,
        "detail": error.detail,
        "code": error.code,
        **error.ids,
    }


def problem_response(error: MarqueeError) -> JSONResponse:
    status = status_for(error)
    headers: dict[str, str] = {}
    if isinstance(error, errors.RateLimited):
        headers["Retry-After"] = str(error.retry_after_s)
    elif isinstance(error, errors.Unavailable):
        retry_after_s = error.ids.get("retry_after_s", RETRY_AFTER_UNAVAILABLE_S)
        headers["Retry-After"] = str(retry_after_s)
    elif isinstance(error, errors.NotAuthenticated):
        headers["WWW-Authenticate"] = "Bearer"
    return JSONResponse(
        problem_body(error, status),
        status_code=status,
        headers=headers,
        media_type=PROBLEM_CONTENT_TYPE,
    )


async def _marquee_error(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, MarqueeError):  # pragma: no cover - registration bug
        raise exc
    return problem_response(exc)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, RequestValidationError):  # pragma: no cover
        raise exc
    problems = [
        {
            "field": ".".join(str(part) for part in issue["loc"]),
            "message": issue["msg"],
            "kind": issue["type"],
        }
        for issue in exc.errors()
    ]
    first = problems[0] if problems else {"field": "", "message": "invalid"}
    error = errors.ValidationFailed(
        f"{first['field']}: {first['message']}", errors=problems
    )
    return problem_response(error)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, StarletteHTTPException):  # pragma: no cover
        raise exc
    error: MarqueeError
    if exc.status_code == 404:
        error = errors.RouteNotFound(
            f"No endpoint at {request.url.path}", path=request.url.path
        )
    elif exc.status_code == 405:
        error = errors.MethodNotAllowed(
            f"{request.method} is not allowed at {request.url.path}",
            path=request.url.path,
            method=request.method,
        )
    else:
        error = MarqueeError(str(exc.detail))
        response = problem_response(error)
        response.status_code = exc.status_code
        return response
    return problem_response(error)


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    request_id = getattr(request.state, "request_id", None)
    logger.exception(
        "unhandled error on %s %s",
        request.method,
        request.url.path,
        extra={"request_id": request_id},
    )
    body = {
        "type": f"{PROBLEM_TYPE_PREFIX}internal_error",
        "title": "Internal error",
        "status": 500,
        "detail": "Something went wrong on our side; the request id identifies it",
        "code": "internal_error",
        "request_id": request_id,
    }
    return JSONResponse(body, status_code=500, media_type=PROBLEM_CONTENT_TYPE)


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(MarqueeError, _marquee_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)


class ProblemRead(BaseModel):
    """The shape of every error body (RFC 9457), plus the ids involved."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    code: str


_DESCRIPTIONS = {
    400: "Bad request",
    401: "Not authenticated",
    403: "Authenticated, but not allowed",
    404: "Not found",
    409: "Conflict with the current state",
    413: "Request body too large",
    422: "The request is invalid",
    429: "Too many requests; see Retry-After",
    503: "Temporarily unavailable; see Retry-After",
}


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` declaring problem+json bodies for `statuses`.

    Every operation also declares 413, 422 and 429, which any request can get.
    """
    declared = sorted({*statuses, 413, 422, 429})
    return {
        status: {
            "model": ProblemRead,
            "description": _DESCRIPTIONS.get(status, "Error"),
            "content": {PROBLEM_CONTENT_TYPE: {}},
        }
        for status in declared
    }
