"""Repository for the catalog: movies, cinemas, auditoriums and showtimes.

Functions take a `Session` inside the caller's transaction and never commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Generic, TypeVar

from sqlalchemy import Select, Text, cast, func, select
from sqlalchemy.orm import Session

from persistence.models import (
    AuditoriumRecord,
    CinemaRecord,
    MovieRecord,
    ShowtimeRecord,
)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    total: int


def _page(session: Session, query: Select[T], page: int, size: int) -> Page[T]:
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    items = list(session.scalars(query.limit(size).offset((page - 1) * size)))
    return Page(items=items, total=total)


def movies(
    session: Session,
    *,
    text: str | None,
    genre: str | None,
    page: int,
    page_size: int,
) -> Page[MovieRecord]:
    query = select(MovieRecord).order_by(MovieRecord.title, MovieRecord.id)
    if text:
        pattern = f"%{_escape_like(text.lower())}%"
        query = query.where(func.lower(MovieRecord.title).like(pattern, escape="\\"))
    if genre:
        # Genres are few per movie; matching the JSON text keeps this portable
        # between SQLite and Postgres.
        # TODO: a genre table (or a Postgres GIN index) once catalogs are big;
        # this scans every movie whose title matched.
        query = query.where(
            func.lower(cast(MovieRecord.genres, Text)).like(
                f'%"{_escape_like(genre.lower())}"%', escape="\\"
            )
        )
    return _page(session, query, page, page_size)


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def movie(session: Session, movie_id: str) -> MovieRecord | None:
    return session.get(MovieRecord, movie_id)


def cinema(session: Session, cinema_id: str) -> CinemaRecord | None:
    return session.get(CinemaRecord, cinema_id)


def auditorium(session: Session, auditorium_id: str) -> AuditoriumRecord | None:
    return session.get(AuditoriumRecord, auditorium_id)


def cinemas(session: Session) -> list[CinemaRecord]:
    return list(session.scalars(select(CinemaRecord).order_by(CinemaRecord.name)))


def showtime(session: Session, showtime_id: str) -> ShowtimeRecord | None:
    return session.get(ShowtimeRecord, showtime_id)


def showtimes(
    session: Session,
    *,
    movie_id: str | None,
    cinema_id: str | None,
    on_date: date | None,
    include_cancelled: bool,
    page: int,
    page_size: int,
) -> Page[ShowtimeRecord]:
    query = select(ShowtimeRecord).order_by(ShowtimeRecord.starts_at, ShowtimeRecord.id)
    if movie_id:
        query = query.where(ShowtimeRecord.movie_id == movie_id)
    if cinema_id:
        query = query.join(
            AuditoriumRecord, AuditoriumRecord.id == ShowtimeRecord.auditorium_id
        ).where(AuditoriumRecord.cinema_id == cinema_id)
    if on_date:
        # TODO: "date" is a UTC day; a cinema's local day needs its timezone.
        start = datetime.combine(on_date, time(0), tzinfo=UTC)
        query = query.where(
            ShowtimeRecord.starts_at >= start,
            ShowtimeRecord.starts_at < start + timedelta(days=1),
        )
    if not include_cancelled:
        query = query.where(ShowtimeRecord.cancelled_at.is_(None))
    return _page(session, query, page, page_size)


def soonest_on_sale(session: Session, now: datetime, limit: int) -> list[str]:
    """Ids of the showtimes still on sale that start soonest."""
    return list(
        session.scalars(
            select(ShowtimeRecord.id)
            .where(
                ShowtimeRecord.starts_at > now, ShowtimeRecord.cancelled_at.is_(None)
            )
            .order_by(ShowtimeRecord.starts_at, ShowtimeRecord.id)
            .limit(limit)
        )
    )
