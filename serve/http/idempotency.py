"""Stripe-style `Idempotency-Key` handling for requests that create things.

The same key with the same body returns the first response; the same key with
another body is `idempotency_conflict`; a concurrent duplicate waits for the
first to finish. Keys are kept `idempotency_key_ttl_s` (24 hours by default). A
request that failed with an error keeps no record, so it may be retried.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from actors.errors import IdempotencyConflict, MarqueeError, ValidationFailed
from persistence import orders_store
from serve.http.platform import Platform

WAIT_FOR_FIRST_S = 10.0
POLL_INTERVAL_S = 0.05
MAX_KEY_LENGTH = 255

Produce = Callable[[], Awaitable[tuple[int, dict[str, Any]]]]


def fingerprint(body: Any) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def run_once(
    platform: Platform,
    *,
    owner_id: str,
    key: str | None,
    body: Any,
    produce: Produce,
) -> tuple[int, dict[str, Any]]:
    """Run `produce` once per (owner, key, body); returns (status, body)."""
    if not key:
        raise ValidationFailed("This request needs an Idempotency-Key header")
    if len(key) > MAX_KEY_LENGTH:
        raise ValidationFailed(
            f"Idempotency-Key has at most {MAX_KEY_LENGTH} characters"
        )
    digest = fingerprint(body)
    now = datetime.now(UTC)
    expires_at = now + timedelta(seconds=platform.settings.idempotency_key_ttl_s)

    try:
        existing = await platform.transaction(
            lambda session: orders_store.claim_idempotency_key(
                session,
                owner_id=owner_id,
                key=key,
                fingerprint=digest,
                now=now,
                expires_at=expires_at,
            )
        )
    except orders_store.AlreadyExists:
        return await _wait_for_first(platform, owner_id, key, digest)
    if existing is not None:
        if existing.fingerprint != digest:
            raise _conflict(key)
        if existing.response_status is not None and existing.response_body is not None:
            return existing.response_status, existing.response_body
        return await _wait_for_first(platform, owner_id, key, digest)

    try:
        status, response = await produce()
    except MarqueeError:
        await platform.transaction(
            lambda session: orders_store.forget_idempotency_key(
                session, owner_id=owner_id, key=key
            )
        )
        raise
    await platform.transaction(
        lambda session: orders_store.finish_idempotency_key(
            session, owner_id=owner_id, key=key, status=status, body=response
        )
    )
    return status, response


async def _wait_for_first(
    platform: Platform, owner_id: str, key: str, digest: str
) -> tuple[int, dict[str, Any]]:
    deadline = asyncio.get_running_loop().time() + WAIT_FOR_FIRST_S
    while asyncio.get_running_loop().time() < deadline:
        record = await platform.transaction(
            lambda session: orders_store.idempotency_record(session, owner_id, key)
        )
        if record is None:
            # The first request failed and left no record: this one may run.
            raise IdempotencyConflict(
                "The first request with this key failed; send it again",
                idempotency_key=key,
            )
        if record.fingerprint != digest:
            raise _conflict(key)
        if record.response_status is not None and record.response_body is not None:
            return record.response_status, record.response_body
        await asyncio.sleep(POLL_INTERVAL_S)
    raise IdempotencyConflict(
        "A request with this key is still in progress", idempotency_key=key
    )


def _conflict(key: str) -> IdempotencyConflict:
    return IdempotencyConflict(
        "This Idempotency-Key was used with a different request",
        idempotency_key=key,
    )
