"""Seat maps served from a copy each replica keeps, never from the actor's queue.

During a rush every customer reloads the seat map, and reads outnumber holds.
Each read going to the actor would queue behind (and slow) the holds. Instead a
replica keeps, per showtime, the last committed seat map the actor handed out,
already rendered as JSON. A copy younger than `max_age_s` is served as it is; an
older one is refreshed by one actor call that every concurrent reader shares.
So a seat map is at most `max_age_s` (plus one call) behind the last commit,
and its `version` says exactly which commit it shows.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from actors.errors import MarqueeError
from actors.messages import SeatMapView
from serve.booking.schemas import RowRead, SeatMapRead, SeatRead
from serve.http.single_flight import SingleFlight

# Copies kept per replica; the least recently refreshed goes first.
MAX_COPIES = 2_000


@dataclass(frozen=True, slots=True)
class RenderedSeatMap:
    version: int
    body: bytes
    etag: str
    fetched_at: float


def seat_map_read(view: SeatMapView) -> SeatMapRead:
    return SeatMapRead(
        showtime_id=view.showtime_id,
        version=view.version,
        available=view.available,
        rows=[
            RowRead(
                label=row.label,
                seats=[
                    SeatRead(label=s.label, category=s.category.value, status=s.status)
                    for s in row.seats
                ],
            )
            for row in view.rows
        ],
    )


def render(view: SeatMapView, fetched_at: float) -> RenderedSeatMap:
    body = seat_map_read(view).model_dump_json().encode()
    # The version alone would repeat after a showtime is rebuilt from scratch
    # (tests, restores); the content hash cannot.
    digest = hashlib.blake2b(body, digest_size=8).hexdigest()
    return RenderedSeatMap(
        version=view.version,
        body=body,
        etag=f'"{view.version}-{digest}"',
        fetched_at=fetched_at,
    )


Fetch = Callable[[str], Awaitable[SeatMapView | MarqueeError]]


class SeatMapCopies:
    """The replica's rendered seat maps, refreshed at most every `max_age_s`."""

    def __init__(
        self,
        fetch: Fetch,
        *,
        max_age_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self._max_age_s = max_age_s
        self._clock = clock
        self._copies: dict[str, RenderedSeatMap] = {}
        self._refreshing: SingleFlight[str, RenderedSeatMap] = SingleFlight()

    async def get(self, showtime_id: str) -> RenderedSeatMap:
        copy = self._copies.get(showtime_id)
        if copy is not None and self._clock() - copy.fetched_at < self._max_age_s:
            return copy
        return await self._refreshing.run(
            showtime_id, lambda: self._refresh(showtime_id)
        )

    async def _refresh(self, showtime_id: str) -> RenderedSeatMap:
        started = self._clock()
        view = await self._fetch(showtime_id)
        if isinstance(view, MarqueeError):
            raise view
        # Age counts from before the call: the copy is at least that fresh.
        copy = render(view, started)
        self._copies.pop(showtime_id, None)
        if len(self._copies) >= MAX_COPIES:
            del self._copies[next(iter(self._copies))]
        self._copies[showtime_id] = copy
        return copy
