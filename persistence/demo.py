"""Demo data for `make run`: a cinema with three auditoriums, five movies and
a week of showtimes.

Seeding is idempotent: ids are fixed, and an existing demo row is left alone.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from persistence import showtime_store as store
from persistence.models import AuditoriumRecord, CinemaRecord, MovieRecord

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
DEMO_CINEMA_ID = "demo-cinema"
DEMO_MOVIES: tuple[tuple[str, str, int, str, tuple[str, ...]], ...] = (
    ("demo-movie-1", "The Long Intermission", 124, "PG-13", ("drama",)),
    ("demo-movie-2", "Popcorn Heist", 98, "PG", ("comedy", "crime")),
    ("demo-movie-3", "Aisle Seat", 112, "PG-13", ("romance",)),
    ("demo-movie-4", "Reel Nine", 131, "R", ("thriller",)),
    ("demo-movie-5", "The Projectionist", 105, "G", ("family", "animation")),
)
DEMO_START_TIMES = (time(14, 0), time(17, 30), time(20, 45))
DEMO_DAYS = 7


def demo_showtime_id(auditorium_id: str, starts_at: datetime) -> str:
    return f"{auditorium_id}-{starts_at:%Y%m%d-%H%M}"


def seed_demo_data(session: Session, now: datetime) -> list[str]:
    """Add what is missing of the demo data; returns every demo showtime id."""
    if session.get(CinemaRecord, DEMO_CINEMA_ID) is None:
        session.add(
            CinemaRecord(
                id=DEMO_CINEMA_ID,
                name="Marquee Central",
                city="Berlin",
                timezone="Europe/Berlin",
                created_at=now,
            )
        )
    for movie_id, title, runtime_min, rating, genres in DEMO_MOVIES:
        if session.get(MovieRecord, movie_id) is None:
            session.add(
                MovieRecord(
                    id=movie_id,
                    title=title,
                    synopsis=f"{title}: a film made up for Marquee's demo data.",
                    runtime_min=runtime_min,
                    rating=rating,
                    genres=list(genres),
                    release_date=None,
                    poster_url=None,
                    created_at=now,
                    updated_at=now,
                )
            )
    session.flush()
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
    for auditorium_id in DEMO_AUDITORIUMS:
        auditorium = session.get(AuditoriumRecord, auditorium_id)
        if auditorium is not None and auditorium.cinema_id is None:
            auditorium.cinema_id = DEMO_CINEMA_ID

    known = store.existing_showtime_ids(session, prefix="demo-")
    showtime_ids = []
    today = now.date()
    movie_ids = [movie[0] for movie in DEMO_MOVIES]
    for day in range(DEMO_DAYS):
        for screen, auditorium_id in enumerate(DEMO_AUDITORIUMS):
            for slot, start in enumerate(DEMO_START_TIMES):
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
                    movie_id=movie_ids[(day + screen + slot) % len(movie_ids)],
                )
    return showtime_ids
