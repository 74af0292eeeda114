"""A local stand-in for the few Stripe API endpoints Marquee calls.

Stripe cannot be reached from here, so tests point the real SDK at this server.
It speaks Stripe's wire format: form-encoded requests with bracketed keys,
JSON objects with `object` fields, errors as `{"error": {...}}`, and
`Idempotency-Key` replays answered with the first response.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

API_KEY = "sk_test_marquee_fake"


@dataclass
class FakeStripe:
    intents: dict[str, dict[str, Any]] = field(default_factory=dict)
    refunds: dict[str, dict[str, Any]] = field(default_factory=dict)
    replies: dict[tuple[str, str, str], tuple[int, dict[str, Any]]] = field(
        default_factory=dict
    )
    outage: bool = False
    calls: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    base_url: str = ""

    def succeed(self, intent_id: str) -> None:
        """What the customer's browser does: pay the intent with a card."""
        with self.lock:
            self.intents[intent_id]["status"] = "succeeded"

    def charged_count(self, order_id: str) -> int:
        return sum(
            1
            for intent in self.intents.values()
            if intent["metadata"].get("order_id") == order_id
            and intent["status"] == "succeeded"
        )

    def handle(
        self, method: str, path: str, form: dict[str, str], key: str | None
    ) -> tuple[int, dict[str, Any]]:
        with self.lock:
            self.calls += 1
            if self.outage:
                return 500, _error("api_error", "Stripe is having a bad day")
            if key is not None and (method, path, key) in self.replies:
                return self.replies[(method, path, key)]
            reply = self._route(method, path, form)
            if key is not None:
                self.replies[(method, path, key)] = reply
            return reply

    def _route(
        self, method: str, path: str, form: dict[str, str]
    ) -> tuple[int, dict[str, Any]]:
        parts = path.strip("/").split("/")
        if method == "POST" and parts == ["v1", "payment_intents"]:
            intent_id = f"pi_{secrets.token_hex(12)}"
            intent = {
                "id": intent_id,
                "object": "payment_intent",
                "amount": int(form["amount"]),
                "currency": form["currency"],
                "status": "requires_payment_method",
                "client_secret": f"{intent_id}_secret_{secrets.token_hex(8)}",
                "metadata": {
                    k[len("metadata[") : -1]: v
                    for k, v in form.items()
                    if k.startswith("metadata[")
                },
                "last_payment_error": None,
                "livemode": False,
            }
            self.intents[intent_id] = intent
            return 200, intent
        if (
            method == "GET"
            and parts[:2] == ["v1", "payment_intents"]
            and len(parts) == 3
        ):
            intent = self.intents.get(parts[2])
            if intent is None:
                return 404, _error("invalid_request_error", "No such payment_intent")
            return 200, intent
        if method == "POST" and parts == ["v1", "refunds"]:
            intent = self.intents.get(form.get("payment_intent", ""))
            if intent is None or intent["status"] != "succeeded":
                return 400, _error("invalid_request_error", "Nothing to refund")
            refund_id = f"re_{secrets.token_hex(12)}"
            refund = {
                "id": refund_id,
                "object": "refund",
                "amount": intent["amount"],
                "payment_intent": intent["id"],
                "status": "succeeded",
            }
            self.refunds[refund_id] = refund
            return 200, refund
        return 404, _error("invalid_request_error", f"Unrecognized request URL {path}")


def _error(kind: str, message: str) -> dict[str, Any]:
    return {"error": {"type": kind, "message": message}}


@contextmanager
def running_fake_stripe() -> Iterator[FakeStripe]:
    fake = FakeStripe()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, method: str) -> None:
            if self.headers.get("Authorization") != f"Bearer {API_KEY}":
                status, body = 401, _error("invalid_request_error", "Invalid API Key")
            else:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode() if length else ""
                path, _, query = self.path.partition("?")
                form = dict(parse_qsl(raw or query))
                status, body = fake.handle(
                    method, path, form, self.headers.get("Idempotency-Key")
                )
            encoded = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(encoded)))
            self.send_header("Request-Id", f"req_{secrets.token_hex(6)}")
            self.end_headers()
            self.wfile.write(encoded)

        def do_GET(self) -> None:
            self._answer("GET")

        def do_POST(self) -> None:
            self._answer("POST")

        def log_message(self, format: str, *args: Any) -> None:
            return  # Quiet: the test output is about Marquee.

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
