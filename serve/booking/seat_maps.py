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

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from actors.errors import MarqueeError
from actors.messages import SeatMapView
from serve.booking.schemas import RowRead, SeatMapRead, SeatRead

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
        self._refreshing: dict[str, asyncio.Future[RenderedSeatMap]] = {}

    async def get(self, showtime_id: str) -> RenderedSeatMap:
        copy = self._copies.get(showtime_id)
        if copy is not None and self._clock() - copy.fetched_at < self._max_age_s:
            return copy
        refreshing = self._refreshing.get(showtime_id)
        if refreshing is None:
            # A task of its own: a reader that gives up (its request timed out)
            # must not cancel the refresh the other readers are waiting on.
            refreshing = asyncio.ensure_future(self._refresh(showtime_id))
            self._refreshing[showtime_id] = refreshing
            refreshing.add_done_callback(
                lambda done: self._refreshed(showtime_id, done)
            )
        return await asyncio.shield(refreshing)

    def _refreshed(
        self, showtime_id: str, done: asyncio.Future[RenderedSeatMap]
    ) -> None:
        self._refreshing.pop(showtime_id, None)
        if not done.cancelled():
            # Every reader may have given up; the error is theirs, not the log's.
            done.exception()

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

    def forget(self, showtime_id: str) -> None:
        self._copies.pop(showtime_id, None)
