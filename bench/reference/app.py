"""The conventional design Marquee is measured against.

FastAPI on uvicorn workers, every request its own Postgres transaction, the
database's row locks deciding who gets a seat:

- named seats: one conditional `UPDATE ... WHERE hold_id IS NULL`; a seat
  somebody else holds simply does not match, and the hold fails as a whole;
- best available: the showtime row is locked (`FOR UPDATE`), because choosing
  side-by-side seats without stranding one needs a stable view of the whole
  row, then the free seats are read with `FOR UPDATE SKIP LOCKED` (skipping
  seats a concurrent named hold is changing) and the chosen block updated.

It verifies the same JWTs as Marquee and answers the same paths under no
prefix, so the load generator drives both alike. It has no rate limits,
idempotency records, outbox or journal: what it does per hold is a floor of
what a complete conventional service would do.

    MARQUEE_REFERENCE_DATABASE_URL=postgresql+psycopg://... \\
        uvicorn bench.reference.app:app --workers 2
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, HTTPException, Response
from pydantic import BaseModel, Field
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from actors.layout import Layout, SeatCategory, parse_layout
from actors.seat_map import best_block
from config.settings import Settings
from serve.http.auth import Principal, TokenService

HOLD_TTL = timedelta(minutes=8)
POOL_SIZE = 16

SCHEMA = """
CREATE TABLE IF NOT EXISTS reference_showtimes (
    id text PRIMARY KEY,
    layout jsonb NOT NULL
);
CREATE TABLE IF NOT EXISTS reference_seats (
    showtime_id text NOT NULL REFERENCES reference_showtimes (id),
    seat_index integer NOT NULL,
    label text NOT NULL,
    hold_id text,
    held_until timestamptz,
    PRIMARY KEY (showtime_id, seat_index),
    UNIQUE (showtime_id, label)
);
CREATE TABLE IF NOT EXISTS reference_holds (
    hold_id text PRIMARY KEY,
    showtime_id text NOT NULL REFERENCES reference_showtimes (id),
    customer_id text NOT NULL,
    seat_indexes integer[] NOT NULL,
    expires_at timestamptz NOT NULL
);
"""


class HoldCreate(BaseModel):
    seats: list[str] | None = Field(default=None, min_length=1, max_length=10)
    count: int | None = Field(default=None, ge=1, le=10)
    category: SeatCategory = SeatCategory.STANDARD


class HoldRead(BaseModel):
    hold_id: str
    showtime_id: str
    seats: list[str]
    expires_at: datetime


async def create_schema(connection: AsyncConnection) -> None:
    for statement in SCHEMA.split(";"):
        if statement.strip():
            await connection.execute(text(statement))


async def add_showtime(
    connection: AsyncConnection, showtime_id: str, layout_rows: list[str]
) -> None:
    """Insert a showtime and its seats, all free (for the benchmark's setup)."""
    layout = parse_layout(layout_rows)
    await connection.execute(
        text("INSERT INTO reference_showtimes (id, layout) VALUES (:id, :layout)"),
        {"id": showtime_id, "layout": json.dumps(layout_rows)},
    )
    await connection.execute(
        text(
            "INSERT INTO reference_seats (showtime_id, seat_index, label)"
            " VALUES (:showtime_id, :seat_index, :label)"
        ),
        [
            {"showtime_id": showtime_id, "seat_index": s.index, "label": s.label}
            for s in layout.seats
        ],
    )


class Reference:
    def __init__(self, database_url: str) -> None:
        self.engine: AsyncEngine = create_async_engine(
            database_url, pool_size=POOL_SIZE, max_overflow=0
        )
        settings = Settings()
        self.tokens = TokenService(
            settings.signing_keys(),
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            access_ttl_s=settings.access_token_ttl_s,
            refresh_ttl_s=settings.refresh_token_ttl_s,
        )
        self._layouts: dict[str, Layout] = {}

    async def layout(self, connection: AsyncConnection, showtime_id: str) -> Layout:
        layout = self._layouts.get(showtime_id)
        if layout is None:
            rows = await connection.scalar(
                text("SELECT layout FROM reference_showtimes WHERE id = :id"),
                {"id": showtime_id},
            )
            if rows is None:
                raise HTTPException(404, "No such showtime")
            layout = self._layouts[showtime_id] = parse_layout(rows)
        return layout

    async def hold_named(
        self, showtime_id: str, customer_id: str, labels: list[str]
    ) -> HoldRead:
        hold_id = uuid.uuid4().hex
        now = datetime.now(UTC)
        async with self.engine.begin() as connection:
            rows = (
                await connection.execute(
                    text(
                        "UPDATE reference_seats SET hold_id = :hold_id,"
                        " held_until = :until"
                        " WHERE showtime_id = :showtime_id AND label = ANY(:labels)"
                        " AND (hold_id IS NULL OR held_until < :now)"
                        " RETURNING seat_index"
                    ),
                    {
                        "hold_id": hold_id,
                        "until": now + HOLD_TTL,
                        "showtime_id": showtime_id,
                        "labels": labels,
                        "now": now,
                    },
                )
            ).all()
            if len(rows) != len(labels):
                await connection.rollback()
                raise HTTPException(409, "seat_unavailable")
            await self._insert_hold(
                connection, hold_id, showtime_id, customer_id, [r[0] for r in rows], now
            )
        return HoldRead(
            hold_id=hold_id,
            showtime_id=showtime_id,
            seats=labels,
            expires_at=now + HOLD_TTL,
        )

    async def hold_best(
        self, showtime_id: str, customer_id: str, count: int, category: SeatCategory
    ) -> HoldRead:
        hold_id = uuid.uuid4().hex
        now = datetime.now(UTC)
        async with self.engine.begin() as connection:
            layout = await self.layout(connection, showtime_id)
            # One chooser at a time per showtime: adjacency and the stranded
            # seat rule depend on every seat of a row, not just the chosen ones.
            await connection.execute(
                text("SELECT 1 FROM reference_showtimes WHERE id = :id FOR UPDATE"),
                {"id": showtime_id},
            )
            free = set(
                (
                    await connection.scalars(
                        text(
                            "SELECT seat_index FROM reference_seats"
                            " WHERE showtime_id = :showtime_id"
                            " AND (hold_id IS NULL OR held_until < :now)"
                            " FOR UPDATE SKIP LOCKED"
                        ),
                        {"showtime_id": showtime_id, "now": now},
                    )
                ).all()
            )
            chosen = best_block(layout, count, category, free.__contains__)
            if chosen is None:
                await connection.rollback()
                raise HTTPException(409, "not_enough_seats")
            await connection.execute(
                text(
                    "UPDATE reference_seats SET hold_id = :hold_id, held_until = :until"
                    " WHERE showtime_id = :showtime_id AND seat_index = ANY(:indexes)"
                ),
                {
                    "hold_id": hold_id,
                    "until": now + HOLD_TTL,
                    "showtime_id": showtime_id,
                    "indexes": list(chosen),
                },
            )
            await self._insert_hold(
                connection, hold_id, showtime_id, customer_id, list(chosen), now
            )
        return HoldRead(
            hold_id=hold_id,
            showtime_id=showtime_id,
            seats=[layout.seats[i].label for i in chosen],
            expires_at=now + HOLD_TTL,
        )

    @staticmethod
    async def _insert_hold(
        connection: AsyncConnection,
        hold_id: str,
        showtime_id: str,
        customer_id: str,
        indexes: list[int],
        now: datetime,
    ) -> None:
        await connection.execute(
            text(
                "INSERT INTO reference_holds"
                " (hold_id, showtime_id, customer_id, seat_indexes, expires_at)"
                " VALUES (:hold_id, :showtime_id, :customer_id, :indexes, :expires_at)"
            ),
            {
                "hold_id": hold_id,
                "showtime_id": showtime_id,
                "customer_id": customer_id,
                "indexes": indexes,
                "expires_at": now + HOLD_TTL,
            },
        )

    async def release(self, hold_id: str, customer_id: str) -> None:
        async with self.engine.begin() as connection:
            showtime_id = await connection.scalar(
                text(
                    "DELETE FROM reference_holds"
                    " WHERE hold_id = :hold_id AND customer_id = :customer_id"
                    " RETURNING showtime_id"
                ),
                {"hold_id": hold_id, "customer_id": customer_id},
            )
            if showtime_id is None:
                raise HTTPException(404, "hold_not_found")
            await connection.execute(
                text(
                    "UPDATE reference_seats SET hold_id = NULL, held_until = NULL"
                    " WHERE showtime_id = :showtime_id AND hold_id = :hold_id"
                ),
                {"showtime_id": showtime_id, "hold_id": hold_id},
            )

    async def seat_map(self, showtime_id: str) -> dict[str, Any]:
        now = datetime.now(UTC)
        async with self.engine.connect() as connection:
            rows = (
                await connection.execute(
                    text(
                        "SELECT label, hold_id IS NOT NULL AND held_until >= :now"
                        " FROM reference_seats WHERE showtime_id = :showtime_id"
                        " ORDER BY seat_index"
                    ),
                    {"showtime_id": showtime_id, "now": now},
                )
            ).all()
        return {
            "showtime_id": showtime_id,
            "seats": [
                {"label": r[0], "status": "held" if r[1] else "free"} for r in rows
            ],
        }


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    reference = Reference(os.environ["MARQUEE_REFERENCE_DATABASE_URL"])
    app.state.reference = reference
    yield
    await reference.engine.dispose()


app = FastAPI(title="Conventional reference", lifespan=lifespan)


def the_reference() -> Reference:
    reference: Reference = app.state.reference
    return reference


Ref = Annotated[Reference, Depends(the_reference)]


def caller(reference: Ref, authorization: Annotated[str, Header()]) -> Principal:
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer":
        raise HTTPException(401, "not_authenticated")
    return reference.tokens.verify_access(token)


Caller = Annotated[Principal, Depends(caller)]


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/showtimes/{showtime_id}/seats")
async def seats(showtime_id: str, reference: Ref) -> dict[str, Any]:
    return await reference.seat_map(showtime_id)


@app.post("/showtimes/{showtime_id}/holds", status_code=201)
async def create_hold(
    showtime_id: str, body: HoldCreate, reference: Ref, who: Caller
) -> HoldRead:
    if body.seats:
        return await reference.hold_named(showtime_id, who.subject_id, body.seats)
    if body.count is None:
        raise HTTPException(422, "name seats or give a count")
    return await reference.hold_best(
        showtime_id, who.subject_id, body.count, body.category
    )


@app.delete("/holds/{hold_id}", status_code=204)
async def release_hold(hold_id: str, reference: Ref, who: Caller) -> Response:
    await reference.release(hold_id, who.subject_id)
    return Response(status_code=204)
