"""Small builders for test data, each with explicit overrides."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from actors.engine import EngineConfig
from actors.layout import SeatCategory
from actors.messages import HoldPolicy, ShowtimeDefinition
from actors.seat_map import SeatMap
from persistence import showtime_store as store
from persistence.database import Database

NOW = datetime(2030, 5, 17, 18, 0, tzinfo=UTC)
SMALL_ROOM = ("SSSS.SSSS", "SSSS.SSSS", "SSSS.SSSS", "PPPP.PPPP")
PRICES = {
    SeatCategory.STANDARD: 1200,
    SeatCategory.PREMIUM: 1800,
    SeatCategory.WHEELCHAIR: 1200,
    SeatCategory.COMPANION: 1200,
}


def unique_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def definition(
    layout: Sequence[str] = SMALL_ROOM,
    *,
    showtime_id: str = "showtime-1",
    starts_at: datetime = NOW + timedelta(days=1),
    cancelled: bool = False,
) -> ShowtimeDefinition:
    return ShowtimeDefinition(
        showtime_id=showtime_id,
        layout_rows=tuple(layout),
        starts_at=starts_at,
        prices_cents=PRICES,
        currency="EUR",
        cancelled=cancelled,
    )


def seat_map(
    layout: Sequence[str] = SMALL_ROOM,
    *,
    hold_ttl_s: float = 480,
    max_seats_per_hold: int = 10,
    starts_at: datetime = NOW + timedelta(days=1),
    cancelled: bool = False,
) -> SeatMap:
    counter = itertools.count(1)
    return SeatMap(
        definition(layout, starts_at=starts_at, cancelled=cancelled),
        HoldPolicy(hold_ttl_s=hold_ttl_s, max_seats_per_hold=max_seats_per_hold),
        id_factory=lambda: f"id{next(counter)}",
    )


def engine_config(**overrides: float) -> EngineConfig:
    values: dict[str, float] = {
        "hold_ttl_s": 480.0,
        "max_seats_per_hold": 10,
        "snapshot_interval_s": 3600.0,
        "snapshot_every_events": 1000,
        "request_id_retention_s": 900.0,
    }
    values.update(overrides)
    return EngineConfig(**values)  # type: ignore[arg-type]


def create_showtime(
    database: Database,
    layout: Sequence[str] = SMALL_ROOM,
    *,
    starts_at: datetime | None = None,
    now: datetime | None = None,
) -> str:
    """A new auditorium and showtime in `database`; returns the showtime id."""
    now = now or datetime.now(UTC)
    auditorium_id = unique_id("auditorium")
    showtime_id = unique_id("showtime")
    with database.sessions.begin() as session:
        store.create_auditorium(session, auditorium_id, "Test room", layout, now)
        store.create_showtime(
            session,
            showtime_id=showtime_id,
            auditorium_id=auditorium_id,
            starts_at=starts_at or now + timedelta(days=1),
            prices_cents={category.value: cents for category, cents in PRICES.items()},
            currency="EUR",
            now=now,
        )
    return showtime_id
