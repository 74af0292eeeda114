"""Demo data for `make run`: three auditoriums and a week of showtimes.

Seeding is idempotent: ids are fixed, and an existing demo row is left alone.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from persistence import showtime_store as store
from persistence.models import AuditoriumRecord

DEMO_AUDITORIUMS: dict[str, tuple[str, tuple[str, ...]]] = {
    "demo-grand": (
        "Grand",
        (
            "SSSSSSSSSS..SSSSSSSSSS",
            "SSSSSSSSSS..SSSSSSSSSS",
            "SSSSSSSSSS..SSSSSSSSSS",
            "SSSSSSSSSS..SSSSSSSSSS",
            "SSSSSSSSSS..SSSSSSSSSS",
            "SSSSSSSSSS..SSSSSSSSSS",
            "SSSSSSSSSS..SSSSSSSSSS",
            "PPPPPPPPPP..PPPPPPPPPP",
            "PPPPPPPPPP..PPPPPPPPPP",
            "WCWC..SSSSSSSSSS..CWCW",
        ),
    ),
    "demo-studio": (
        "Studio",
        (
            "SSSS.SSSSSS.SSSS",
            "SSSS.SSSSSS.SSSS",
            "SSSS.SSSSSS.SSSS",
            "SSSS.SSSSSS.SSSS",
            "PPPP.PPPPPP.PPPP",
            "WC..........CW..",
        ),
    ),
    "demo-salon": (
        "Salon",
        (
            "PPPPPP",
            "PPPPPP",
            "PPPPPP",
            "WC..CW",
        ),
    ),
}


def _prices(standard: int, premium: int) -> dict[str, int]:
    # Wheelchair spaces and companion seats cost what a standard seat costs.
    return {
        "standard": standard,
        "premium": premium,
        "wheelchair": standard,
        "companion": standard,
    }


DEMO_PRICES_CENTS = {
    "demo-grand": _prices(1200, 1600),
    "demo-studio": _prices(1000, 1400),
    "demo-salon": _prices(2200, 2200),
}
DEMO_START_TIMES = (time(14, 0), time(17, 30), time(20, 45))
DEMO_DAYS = 7


def demo_showtime_id(auditorium_id: str, starts_at: datetime) -> str:
    return f"{auditorium_id}-{starts_at:%Y%m%d-%H%M}"


def seed_demo_data(session: Session, now: datetime) -> list[str]:
    """Add what is missing of the demo data; returns every demo showtime id."""
    existing = set(
        session.scalars(
            select(AuditoriumRecord.id).where(
                AuditoriumRecord.id.in_(list(DEMO_AUDITORIUMS))
            )
        )
    )
    for auditorium_id, (name, layout) in DEMO_AUDITORIUMS.items():
        if auditorium_id not in existing:
            store.create_auditorium(session, auditorium_id, name, layout, now)
    session.flush()

    known = store.existing_showtime_ids(session, prefix="demo-")
    showtime_ids = []
    today = now.date()
    for day in range(DEMO_DAYS):
        for auditorium_id in DEMO_AUDITORIUMS:
            for start in DEMO_START_TIMES:
                starts_at = datetime.combine(
                    today + timedelta(days=day), start, tzinfo=now.tzinfo
                )
                if starts_at <= now:
                    continue
                showtime_id = demo_showtime_id(auditorium_id, starts_at)
                showtime_ids.append(showtime_id)
                if showtime_id in known:
                    continue
                store.create_showtime(
                    session,
                    showtime_id=showtime_id,
                    auditorium_id=auditorium_id,
                    starts_at=starts_at,
                    prices_cents=DEMO_PRICES_CENTS[auditorium_id],
                    currency="EUR",
                    now=now,
                )
    return showtime_ids
