"""HTTP bodies of the catalog application."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Generic, TypeVar
from zoneinfo import available_timezones

from pydantic import AwareDatetime, BaseModel, Field, HttpUrl, field_validator

from serve.users.schemas import Strict

MAX_PAGE_SIZE = 100
T = TypeVar("T")


class PageRead(BaseModel, Generic[T]):
    items: list[T]
    total: int
    page: int
    page_size: int


class MovieCreate(Strict):
    title: str = Field(min_length=1, max_length=300)
    synopsis: str = Field(default="", max_length=5000)
    runtime_min: int = Field(ge=1, le=1000)
    rating: str = Field(min_length=1, max_length=16, examples=["PG-13"])
    genres: list[str] = Field(default_factory=list, max_length=10)
    release_date: date | None = None
    poster_url: HttpUrl | None = None

    @field_validator("genres")
    @classmethod
    def normalise_genres(cls, genres: list[str]) -> list[str]:
        cleaned = sorted({genre.strip().lower() for genre in genres if genre.strip()})
        if any(len(genre) > 40 for genre in cleaned):
            raise ValueError("a genre has at most 40 characters")
        return cleaned


class MovieUpdate(Strict):
    title: str | None = Field(default=None, min_length=1, max_length=300)
    synopsis: str | None = Field(default=None, max_length=5000)
    runtime_min: int | None = Field(default=None, ge=1, le=1000)
    rating: str | None = Field(default=None, min_length=1, max_length=16)
    genres: list[str] | None = Field(default=None, max_length=10)
    release_date: date | None = None
    poster_url: HttpUrl | None = None


class MovieRead(BaseModel):
    id: str
    title: str
    synopsis: str
    runtime_min: int
    rating: str
    genres: list[str]
    release_date: date | None
    poster_url: str | None


class CinemaCreate(Strict):
    name: str = Field(min_length=1, max_length=200)
    city: str = Field(min_length=1, max_length=200)
    timezone: str = Field(examples=["Europe/Berlin"])

    @field_validator("timezone")
    @classmethod
    def known_timezone(cls, value: str) -> str:
        if value not in available_timezones():
            raise ValueError("not an IANA time zone name")
        return value


class CinemaRead(BaseModel):
    id: str
    name: str
    city: str
    timezone: str


class AuditoriumCreate(Strict):
    name: str = Field(min_length=1, max_length=200)
    layout: list[str] = Field(
        min_length=1, max_length=100, examples=[["SSSS..SSSS", "PPPP..PPPP"]]
    )


class AuditoriumRead(BaseModel):
    id: str
    cinema_id: str | None
    name: str
    layout: list[str]
    capacity: int
    seats_by_category: dict[str, int]


class ShowtimeStatus(enum.StrEnum):
    ON_SALE = "on_sale"
    CLOSED = "closed"
    CANCELLED = "cancelled"


class ShowtimeCreate(Strict):
    movie_id: str = Field(min_length=1, max_length=64)
    auditorium_id: str = Field(min_length=1, max_length=64)
    starts_at: AwareDatetime
    prices: dict[str, int] = Field(examples=[{"standard": 1200, "premium": 1800}])
    currency: str = Field(pattern=r"^[A-Z]{3}$", examples=["EUR"])

    @field_validator("prices")
    @classmethod
    def positive_prices(cls, prices: dict[str, int]) -> dict[str, int]:
        if any(cents <= 0 or cents > 1_000_000 for cents in prices.values()):
            raise ValueError("prices are positive amounts in minor units")
        return prices


class ShowtimeRead(BaseModel):
    id: str
    movie_id: str | None
    auditorium_id: str
    cinema_id: str | None
    starts_at: datetime
    prices: dict[str, int]
    currency: str
    status: ShowtimeStatus
