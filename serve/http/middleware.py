"""ASGI middleware every application runs: request ids, headers, body limits.

Written as plain ASGI rather than `BaseHTTPMiddleware`, which costs a task and
a memory copy per request on the hot path.
"""

from __future__ import annotations

import contextvars
import re
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from actors.errors import PayloadTooLarge
from serve.http.problems import problem_response

REQUEST_ID_HEADER = b"x-request-id"
_ACCEPTABLE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_id", default=None
)

# API responses are JSON for programs; nothing may frame, sniff or cache them.
_SECURITY_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
)
# The interactive docs load scripts and styles, so they skip the strict policy.
_DOCS_SUFFIXES = ("/docs", "/redoc", "/openapi.json", "/docs/oauth2-redirect")


def current_request_id() -> str | None:
    return request_id_var.get()


class PlatformMiddleware:
    """Request id in and out, security headers out, request bodies bounded."""

    def __init__(
        self, app: ASGIApp, *, max_body_bytes: int, behind_serve: bool
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        # Serve's own middleware assigns the id (keeping a client's) before this
        # runs and echoes it on the response; then this only adopts it.
        self.behind_serve = behind_serve

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        request_id = _request_id_from(scope, trust_header=self.behind_serve)
        scope.setdefault("state", {})["request_id"] = request_id
        token = request_id_var.set(request_id)
        is_docs = scope["path"].endswith(_DOCS_SUFFIXES)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if not self.behind_serve:
                    headers.append((REQUEST_ID_HEADER, request_id.encode()))
                if not is_docs:
                    # A route that set one of these on purpose (a seat map's
                    # Cache-Control) keeps its own; one header of each name.
                    present = {name.lower() for name, _ in headers}
                    headers.extend(
                        header
                        for header in _SECURITY_HEADERS
                        if header[0] not in present
                    )
                message["headers"] = headers
            await send(message)

        try:
            declared = _content_length(scope)
            if declared is not None and declared > self.max_body_bytes:
                await self._refuse(scope, receive, send_with_headers)
                return
            body = await self._read_bounded(receive)
            if body is None:
                await self._refuse(scope, receive, send_with_headers)
                return
            await self.app(scope, _replay(body, receive), send_with_headers)
        finally:
            request_id_var.reset(token)

    async def _read_bounded(self, receive: Receive) -> bytes | None:
        """The whole body, or None once it grows past the limit.

        Read here rather than while the app reads it: FastAPI turns any error
        raised while it reads a body into a generic 400.
        """
        chunks: list[bytes] = []
        received = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            received += len(chunk)
            if received > self.max_body_bytes:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        error = PayloadTooLarge(
            f"Request bodies are limited to {self.max_body_bytes} bytes",
            limit=self.max_body_bytes,
        )
        await problem_response(error)(scope, receive, send)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that hands over the body read already, then the real stream."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _request_id_from(scope: Scope, *, trust_header: bool) -> str:
    for name, value in scope.get("headers", []):
        if name == REQUEST_ID_HEADER:
            candidate: str = value.decode("latin-1")
            if trust_header or _ACCEPTABLE_REQUEST_ID.match(candidate):
                return candidate[:128]
            break
    return uuid.uuid4().hex


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
