"""The catalog application at `/api/v1/catalog`.

Reads are cached (Redis, or this replica's memory) and every write invalidates
what it changes. Creating a showtime makes it bookable; cancelling one closes
its sales in the showtime's actor before the catalog says so.
"""

import logging
import uuid
from collections import Counter
from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query, status
from ray import serve
from ray.serve.deployment import Application
from sqlalchemy.orm import Session

from actors.directory import ShowtimeDirectory
from actors.errors import (
    AuditoriumNotFound,
    CinemaNotFound,
    MarqueeError,
    MovieNotFound,
    SalesClosed,
    ShowtimeNotFound,
    UnknownCategory,
    ValidationFailed,
)
from actors.layout import SeatCategory, parse_layout
from actors.messages import CancelShowtime
from config.settings import Settings
from persistence import catalog_store, orders_store
from persistence import showtime_store as store
from persistence.models import (
    AuditoriumRecord,
    CinemaRecord,
    MovieRecord,
    ShowtimeRecord,
)
from serve.catalog.schemas import (
    MAX_PAGE_SIZE,
    AuditoriumCreate,
    AuditoriumRead,
    CinemaCreate,
    CinemaRead,
    MovieCreate,
    MovieRead,
    MovieUpdate,
    PageRead,
    ShowtimeCreate,
    ShowtimeRead,
    ShowtimeStatus,
)
from serve.http.auth import Principal
from serve.http.platform import Platform, bind_deployment, create_app
from serve.http.problems import problems
from serve.payments.flow import CheckoutFlow
from serve.payments.providers import make_provider

logger = logging.getLogger(__name__)

ROUTE_PREFIX = "/api/v1/catalog"
MOVIES = "movies"
SHOWTIMES = "showtimes"

PageNumber = Annotated[int, Query(ge=1, le=10_000)]
PageSize = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)]


def movie_read(movie: MovieRecord) -> MovieRead:
    return MovieRead(
        id=movie.id,
        title=movie.title,
        synopsis=movie.synopsis,
        runtime_min=movie.runtime_min,
        rating=movie.rating,
        genres=movie.genres,
        release_date=movie.release_date,
        poster_url=movie.poster_url,
    )


def cinema_read(cinema: CinemaRecord) -> CinemaRead:
    return CinemaRead(
        id=cinema.id, name=cinema.name, city=cinema.city, timezone=cinema.timezone
    )


def auditorium_read(auditorium: AuditoriumRecord) -> AuditoriumRead:
    layout = parse_layout(auditorium.layout)
    by_category = Counter(seat.category.value for seat in layout.seats)
    return AuditoriumRead(
        id=auditorium.id,
        cinema_id=auditorium.cinema_id,
        name=auditorium.name,
        layout=auditorium.layout,
        capacity=len(layout.seats),
        seats_by_category=dict(by_category),
    )


def showtime_read(
    session: Session, showtime: ShowtimeRecord, now: datetime
) -> ShowtimeRead:
    auditorium = catalog_store.auditorium(session, showtime.auditorium_id)
    if showtime.cancelled_at is not None:
        state = ShowtimeStatus.CANCELLED
    elif showtime.starts_at <= now:
        state = ShowtimeStatus.CLOSED
    else:
        state = ShowtimeStatus.ON_SALE
    return ShowtimeRead(
        id=showtime.id,
        movie_id=showtime.movie_id,
        auditorium_id=showtime.auditorium_id,
        cinema_id=auditorium.cinema_id if auditorium else None,
        starts_at=showtime.starts_at,
        prices=showtime.prices_cents,
        currency=showtime.currency,
        status=state,
    )


def check_prices(prices: dict[str, int], layout_rows: list[str]) -> None:
    known = {category.value for category in SeatCategory}
    unknown = sorted(set(prices) - known)
    if unknown:
        raise UnknownCategory(
            f"Unknown seat categories: {', '.join(unknown)}", categories=unknown
        )
    needed = {seat.category.value for seat in parse_layout(layout_rows).seats}
    missing = sorted(needed - set(prices))
    if missing:
        raise ValidationFailed(
            f"No price for seat categories in this auditorium: {', '.join(missing)}",
            categories=missing,
        )


def install_routes(
    app: FastAPI,
    platform: Platform,
    directory: ShowtimeDirectory,
    checkout: CheckoutFlow,
) -> None:
    cache = platform.cache
    Staff = Annotated[Principal, Depends(platform.staff_only)]

    @app.get("/movies", responses=problems(), summary="Search movies")
    async def list_movies(
        q: Annotated[str | None, Query(max_length=200)] = None,
        genre: Annotated[str | None, Query(max_length=40)] = None,
        page: PageNumber = 1,
        page_size: PageSize = 20,
    ) -> PageRead[MovieRead]:
        key = f"list:{q}:{genre}:{page}:{page_size}"
        cached = await cache.get(MOVIES, key)
        if cached is not None:
            return PageRead[MovieRead].model_validate(cached)

        def read(session: Session) -> PageRead[MovieRead]:
            found = catalog_store.movies(
                session, text=q, genre=genre, page=page, page_size=page_size
            )
            return PageRead[MovieRead](
                items=[movie_read(movie) for movie in found.items],
                total=found.total,
                page=page,
                page_size=page_size,
            )

        result = await platform.transaction(read)
        await cache.put(MOVIES, key, result.model_dump(mode="json"))
        return result

    @app.get("/movies/{movie_id}", responses=problems(404), summary="One movie")
    async def get_movie(movie_id: str) -> MovieRead:
        cached = await cache.get(MOVIES, f"one:{movie_id}")
        if cached is not None:
            return MovieRead.model_validate(cached)
        movie = await platform.transaction(
            lambda session: catalog_store.movie(session, movie_id)
        )
        if movie is None:
            raise MovieNotFound("No such movie", movie_id=movie_id)
        result = movie_read(movie)
        await cache.put(MOVIES, f"one:{movie_id}", result.model_dump(mode="json"))
        return result

    @app.post(
        "/movies",
        status_code=status.HTTP_201_CREATED,
        responses=problems(401, 403),
        summary="Add a movie (staff)",
    )
    async def create_movie(body: MovieCreate, staff: Staff) -> MovieRead:
        now = datetime.now(UTC)

        def add(session: Session) -> MovieRecord:
            movie = MovieRecord(
                id=uuid.uuid4().hex,
                title=body.title,
                synopsis=body.synopsis,
                runtime_min=body.runtime_min,
                rating=body.rating,
                genres=body.genres,
                release_date=body.release_date,
                poster_url=str(body.poster_url) if body.poster_url else None,
                created_at=now,
                updated_at=now,
            )
            session.add(movie)
            return movie

        movie = await platform.transaction(add)
        await cache.invalidate(MOVIES)
        return movie_read(movie)

    @app.patch(
        "/movies/{movie_id}",
        responses=problems(401, 403, 404),
        summary="Change a movie (staff)",
    )
    async def update_movie(movie_id: str, body: MovieUpdate, staff: Staff) -> MovieRead:
        changes: dict[str, Any] = body.model_dump(exclude_unset=True)
        if "poster_url" in changes and changes["poster_url"] is not None:
            changes["poster_url"] = str(changes["poster_url"])
        if "genres" in changes and changes["genres"] is not None:
            changes["genres"] = MovieCreate.normalise_genres(changes["genres"])
        nullable = {"release_date", "poster_url"}
        if any(v is None for k, v in changes.items() if k not in nullable):
            raise ValidationFailed("Only release_date and poster_url may be null")

        def update(session: Session) -> MovieRecord | None:
            movie = catalog_store.movie(session, movie_id)
            if movie is None:
                return None
            for field, value in changes.items():
                setattr(movie, field, value)
            movie.updated_at = datetime.now(UTC)
            return movie

        movie = await platform.transaction(update)
        if movie is None:
            raise MovieNotFound("No such movie", movie_id=movie_id)
        await cache.invalidate(MOVIES)
        return movie_read(movie)

    @app.get("/cinemas", responses=problems(), summary="Every cinema")
    async def list_cinemas() -> list[CinemaRead]:
        cinemas = await platform.transaction(catalog_store.cinemas)
        return [cinema_read(cinema) for cinema in cinemas]

    @app.post(
        "/cinemas",
        status_code=status.HTTP_201_CREATED,
        responses=problems(401, 403),
        summary="Add a cinema (staff)",
    )
    async def create_cinema(body: CinemaCreate, staff: Staff) -> CinemaRead:
        cinema = CinemaRecord(
            id=uuid.uuid4().hex,
            name=body.name,
            city=body.city,
            timezone=body.timezone,
            created_at=datetime.now(UTC),
        )
        await platform.transaction(lambda session: session.add(cinema))
        return cinema_read(cinema)

    @app.post(
        "/cinemas/{cinema_id}/auditoriums",
        status_code=status.HTTP_201_CREATED,
        responses=problems(401, 403, 404),
        summary="Add an auditorium with its seat layout (staff)",
    )
    async def create_auditorium(
        cinema_id: str, body: AuditoriumCreate, staff: Staff
    ) -> AuditoriumRead:
        parse_layout(body.layout)  # Raises invalid_layout naming the fault.
        auditorium = AuditoriumRecord(
            id=uuid.uuid4().hex,
            cinema_id=cinema_id,
            name=body.name,
            layout=body.layout,
            created_at=datetime.now(UTC),
        )

        def add(session: Session) -> bool:
            if catalog_store.cinema(session, cinema_id) is None:
                return False
            session.add(auditorium)
            return True

        if not await platform.transaction(add):
            raise CinemaNotFound("No such cinema", cinema_id=cinema_id)
        return auditorium_read(auditorium)

    @app.get(
        "/auditoriums/{auditorium_id}",
        responses=problems(404),
        summary="One auditorium and its layout",
    )
    async def get_auditorium(auditorium_id: str) -> AuditoriumRead:
        auditorium = await platform.transaction(
            lambda session: catalog_store.auditorium(session, auditorium_id)
        )
        if auditorium is None:
            raise AuditoriumNotFound("No such auditorium", auditorium_id=auditorium_id)
        return auditorium_read(auditorium)

    @app.post(
        "/showtimes",
        status_code=status.HTTP_201_CREATED,
        responses=problems(401, 403, 404),
        summary="Schedule a showtime; it is on sale until it starts (staff)",
    )
    async def create_showtime(body: ShowtimeCreate, staff: Staff) -> ShowtimeRead:
        now = datetime.now(UTC)
        if body.starts_at <= now:
            raise ValidationFailed("starts_at must be in the future")
        showtime_id = uuid.uuid4().hex

        def add(session: Session) -> ShowtimeRead:
            if catalog_store.movie(session, body.movie_id) is None:
                raise MovieNotFound("No such movie", movie_id=body.movie_id)
            auditorium = catalog_store.auditorium(session, body.auditorium_id)
            if auditorium is None:
                raise AuditoriumNotFound(
                    "No such auditorium", auditorium_id=body.auditorium_id
                )
            check_prices(body.prices, auditorium.layout)
            store.create_showtime(
                session,
                showtime_id=showtime_id,
                auditorium_id=auditorium.id,
                starts_at=body.starts_at,
                prices_cents=body.prices,
                currency=body.currency,
                now=now,
                movie_id=body.movie_id,
            )
            session.flush()
            showtime = catalog_store.showtime(session, showtime_id)
            if showtime is None:  # pragma: no cover - just added
                raise ShowtimeNotFound("No such showtime", showtime_id=showtime_id)
            return showtime_read(session, showtime, now)

        result = await platform.transaction(add)
        await cache.invalidate(SHOWTIMES)
        logger.info("showtime %s scheduled", showtime_id)
        return result

    @app.get("/showtimes", responses=problems(), summary="Find showtimes")
    async def list_showtimes(
        movie_id: Annotated[str | None, Query(max_length=64)] = None,
        cinema_id: Annotated[str | None, Query(max_length=64)] = None,
        date: Annotated[date | None, Query(description="A UTC day")] = None,
        page: PageNumber = 1,
        page_size: PageSize = 20,
    ) -> PageRead[ShowtimeRead]:
        key = f"list:{movie_id}:{cinema_id}:{date}:{page}:{page_size}"
        cached = await cache.get(SHOWTIMES, key)
        if cached is not None:
            return PageRead[ShowtimeRead].model_validate(cached)
        now = datetime.now(UTC)

        def read(session: Session) -> PageRead[ShowtimeRead]:
            found = catalog_store.showtimes(
                session,
                movie_id=movie_id,
                cinema_id=cinema_id,
                on_date=date,
                include_cancelled=False,
                page=page,
                page_size=page_size,
            )
            return PageRead[ShowtimeRead](
                items=[showtime_read(session, s, now) for s in found.items],
                total=found.total,
                page=page,
                page_size=page_size,
            )

        result = await platform.transaction(read)
        await cache.put(SHOWTIMES, key, result.model_dump(mode="json"))
        return result

    @app.get(
        "/showtimes/{showtime_id}", responses=problems(404), summary="One showtime"
    )
    async def get_showtime(showtime_id: str) -> ShowtimeRead:
        now = datetime.now(UTC)

        def read(session: Session) -> ShowtimeRead | None:
            showtime = catalog_store.showtime(session, showtime_id)
            return None if showtime is None else showtime_read(session, showtime, now)

        result = await platform.transaction(read)
        if result is None:
            raise ShowtimeNotFound("No such showtime", showtime_id=showtime_id)
        return result

    @app.post(
        "/showtimes/{showtime_id}/cancel",
        responses=problems(401, 403, 404, 409, 503),
        summary="Cancel a showtime: sales close, holds go, bookings are refunded",
    )
    async def cancel_showtime(showtime_id: str, staff: Staff) -> ShowtimeRead:
        exists = await platform.transaction(
            lambda session: catalog_store.showtime(session, showtime_id) is not None
        )
        if not exists:
            raise ShowtimeNotFound("No such showtime", showtime_id=showtime_id)
        # The actor closes sales first, so that no hold can slip in after the
        # catalog says cancelled. Its request id makes a retry harmless.
        (outcome,) = await directory.submit(
            showtime_id, [CancelShowtime(f"cancel-showtime:{showtime_id}")]
        )
        already = isinstance(outcome, SalesClosed)
        if isinstance(outcome, MarqueeError) and not already:
            raise outcome
        now = datetime.now(UTC)

        def mark(session: Session) -> ShowtimeRead | None:
            showtime = catalog_store.showtime(session, showtime_id)
            if showtime is None:
                return None
            showtime.cancelled_at = showtime.cancelled_at or now
            return showtime_read(session, showtime, now)

        result = await platform.transaction(mark)
        if result is None:
            raise ShowtimeNotFound("No such showtime", showtime_id=showtime_id)
        await cache.invalidate(SHOWTIMES)
        # Refund every paid booking. Read from the database rather than the
        # actor's answer, so that a retry after a failed refund finishes the job.
        booking_ids = await platform.transaction(
            lambda session: orders_store.confirmed_bookings_of_showtime(
                session, showtime_id
            )
        )
        for booking_id in booking_ids:
            await checkout.refund_cancelled_booking(booking_id)
        logger.info(
            "showtime %s cancelled by %s; %d bookings refunded",
            showtime_id,
            staff.subject_id,
            len(booking_ids),
        )
        return result


@serve.deployment(name="catalog")
@serve.ingress()
class CatalogDeployment:
    def __init__(self, settings: Settings) -> None:
        self._platform = Platform(settings)
        self._directory = self._platform.showtime_directory()
        self._checkout = CheckoutFlow(
            self._platform, self._directory, make_provider(self._platform)
        )

    def __serve_build_asgi_app__(self) -> FastAPI:
        app = create_app(
            self._platform,
            route_prefix=ROUTE_PREFIX,
            title="Marquee catalog",
            description="Movies, cinemas, auditoriums and showtimes.",
        )
        install_routes(app, self._platform, self._directory, self._checkout)
        return app


def catalog_application(settings: Settings) -> Application:
    return bind_deployment(CatalogDeployment, settings, num_replicas=settings.replicas)
