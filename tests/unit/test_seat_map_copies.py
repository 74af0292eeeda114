"""The replica's seat-map copies: how stale they may get, and who shares a fetch."""

from __future__ import annotations

import asyncio
import json

import pytest

from actors.errors import MarqueeError, ShowtimeUnavailable
from actors.layout import SeatCategory
from actors.messages import RowView, SeatMapView, SeatView
from serve.booking.seat_maps import SeatMapCopies


def view(version: int, status: str = "free") -> SeatMapView:
    seats = (SeatView(label="A1", category=SeatCategory.STANDARD, status=status),)
    return SeatMapView(
        showtime_id="s1",
        version=version,
        available=1 if status == "free" else 0,
        rows=(RowView(label="A", seats=seats),),
    )


class Actor:
    """Stands in for the directory: answers with the current view, counting calls."""

    def __init__(self) -> None:
        self.current: SeatMapView | MarqueeError = view(1)
        self.calls = 0
        self.gate: asyncio.Event | None = None

    async def seat_map(self, showtime_id: str) -> SeatMapView | MarqueeError:
        self.calls += 1
        if self.gate is not None:
            await self.gate.wait()
        return self.current


def test_a_copy_is_served_until_it_is_older_than_the_bound() -> None:
    actor, now = Actor(), [100.0]
    copies = SeatMapCopies(actor.seat_map, max_age_s=0.5, clock=lambda: now[0])

    async def scenario() -> list[int]:
        versions = [(await copies.get("s1")).version]
        actor.current = view(2, "held")
        now[0] += 0.4
        versions.append((await copies.get("s1")).version)
        now[0] += 0.2
        versions.append((await copies.get("s1")).version)
        return versions

    assert asyncio.run(scenario()) == [1, 1, 2]
    assert actor.calls == 2


def test_the_copy_is_the_seat_map_as_json_with_an_etag_per_version() -> None:
    actor = Actor()
    copies = SeatMapCopies(actor.seat_map, max_age_s=0)

    async def scenario() -> tuple[str, str, dict[str, object]]:
        first = await copies.get("s1")
        actor.current = view(2, "held")
        second = await copies.get("s1")
        return first.etag, second.etag, json.loads(second.body)

    first_etag, second_etag, body = asyncio.run(scenario())
    assert first_etag != second_etag
    assert body["version"] == 2
    assert body["rows"][0]["seats"][0] == {
        "label": "A1",
        "category": "standard",
        "status": "held",
    }


def test_concurrent_readers_of_a_stale_copy_share_one_actor_call() -> None:
    actor = Actor()
    copies = SeatMapCopies(actor.seat_map, max_age_s=0.5)

    async def scenario() -> list[int]:
        actor.gate = asyncio.Event()
        readers = [asyncio.create_task(copies.get("s1")) for _ in range(50)]
        await asyncio.sleep(0.01)
        actor.gate.set()
        return [copy.version for copy in await asyncio.gather(*readers)]

    assert asyncio.run(scenario()) == [1] * 50
    assert actor.calls == 1


def test_an_actor_error_reaches_every_reader_and_is_not_kept() -> None:
    actor = Actor()
    actor.current = ShowtimeUnavailable("moving", showtime_id="s1")
    copies = SeatMapCopies(actor.seat_map, max_age_s=10)

    async def scenario() -> None:
        with pytest.raises(ShowtimeUnavailable):
            await copies.get("s1")
        actor.current = view(3)
        assert (await copies.get("s1")).version == 3

    asyncio.run(scenario())


def test_a_reader_that_gives_up_does_not_cancel_the_refresh_others_wait_on() -> None:
    actor = Actor()
    copies = SeatMapCopies(actor.seat_map, max_age_s=0.5)

    async def scenario() -> int:
        actor.gate = asyncio.Event()
        impatient = asyncio.create_task(copies.get("s1"))
        patient = asyncio.create_task(copies.get("s1"))
        await asyncio.sleep(0.01)
        impatient.cancel()
        await asyncio.sleep(0.01)
        actor.gate.set()
        return (await patient).version

    assert asyncio.run(scenario()) == 1
    assert actor.calls == 1
