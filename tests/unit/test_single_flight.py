"""Shared calls: concurrent callers for one key get one call between them."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from persistence.waiting_room_store import Room
from serve.booking.waiting_room import WaitingRooms
from serve.http.single_flight import SingleFlight


class Source:
    """Answers `value` after `gate` opens, counting the calls made."""

    def __init__(self, value: Any = "answer") -> None:
        self.value = value
        self.calls = 0
        self.gate = asyncio.Event()

    async def fetch(self) -> Any:
        self.calls += 1
        await self.gate.wait()
        if isinstance(self.value, Exception):
            raise self.value
        return self.value


def test_concurrent_callers_for_one_key_share_a_call() -> None:
    async def scenario() -> tuple[list[str], int]:
        flight: SingleFlight[str, str] = SingleFlight()
        source = Source()
        callers = [asyncio.create_task(flight.run("k", source.fetch)) for _ in range(5)]
        await asyncio.sleep(0)
        source.gate.set()
        return list(await asyncio.gather(*callers)), source.calls

    answers, calls = asyncio.run(scenario())

    assert answers == ["answer"] * 5
    assert calls == 1


def test_different_keys_and_later_callers_get_calls_of_their_own() -> None:
    async def scenario() -> int:
        flight: SingleFlight[str, str] = SingleFlight()
        source = Source()
        source.gate.set()
        await asyncio.gather(
            flight.run("a", source.fetch), flight.run("b", source.fetch)
        )
        await flight.run("a", source.fetch)
        return source.calls

    assert asyncio.run(scenario()) == 3


def test_a_caller_that_gives_up_leaves_the_call_to_the_others() -> None:
    async def scenario() -> str:
        flight: SingleFlight[str, str] = SingleFlight()
        source = Source()
        quitter = asyncio.create_task(flight.run("k", source.fetch))
        stayer = asyncio.create_task(flight.run("k", source.fetch))
        await asyncio.sleep(0)
        quitter.cancel()
        await asyncio.sleep(0)
        source.gate.set()
        return await stayer

    assert asyncio.run(scenario()) == "answer"


def test_every_caller_sees_the_calls_error() -> None:
    async def scenario() -> list[BaseException | str]:
        flight: SingleFlight[str, str] = SingleFlight()
        source = Source(LookupError("gone"))
        callers = [asyncio.create_task(flight.run("k", source.fetch)) for _ in range(3)]
        await asyncio.sleep(0)
        source.gate.set()
        return list(await asyncio.gather(*callers, return_exceptions=True))

    results = asyncio.run(scenario())

    assert all(isinstance(result, LookupError) for result in results)


def room(active: bool, showtime_id: str = "s1") -> Room:
    opens_at = datetime(2026, 12, 3, 18, 0, tzinfo=UTC)
    return Room(
        showtime_id=showtime_id,
        active=active,
        opens_at=opens_at,
        admit_per_minute=60,
        admitted_before_rate=0,
        rate_since=opens_at,
    )


def rooms_reading(source: Source) -> WaitingRooms:
    async def transaction(work: Callable[[Any], Any]) -> Any:
        # The store is not under test here: every read answers `source`.
        return await source.fetch()

    return WaitingRooms(
        transaction, "test-secret-" * 4, refresh_s=60.0, admission_ttl_s=600.0
    )


def test_holds_arriving_while_rooms_are_read_share_that_read() -> None:
    async def scenario() -> tuple[list[Room | None], int]:
        source = Source({"s1": room(active=True)})
        rooms = rooms_reading(source)
        readers = [asyncio.create_task(rooms.room("s1")) for _ in range(40)]
        await asyncio.sleep(0)
        source.gate.set()
        found = list(await asyncio.gather(*readers))
        found.append(await rooms.room("s1"))
        return found, source.calls

    found, calls = asyncio.run(scenario())

    assert found == [room(active=True)] * 41
    assert calls == 1


def test_one_read_answers_for_every_showtime() -> None:
    async def scenario() -> tuple[list[Room | None], int]:
        source = Source({"s1": room(True, "s1"), "s2": room(True, "s2")})
        source.gate.set()
        rooms = rooms_reading(source)
        found = [await rooms.room(sid) for sid in ("s1", "s2", "s3", "s1")]
        return found, source.calls

    found, calls = asyncio.run(scenario())

    assert found == [room(True, "s1"), room(True, "s2"), None, room(True, "s1")]
    assert calls == 1


def test_an_older_read_does_not_overwrite_a_room_this_replica_just_wrote() -> None:
    async def scenario() -> tuple[list[Room | None], int]:
        slow_read = asyncio.Event()
        # The slow read started before either write and saw neither.
        answers: list[Any] = [
            {"s2": room(True, "s2")},
            room(True, "s1"),
            room(False, "s2"),
        ]
        calls = 0

        async def transaction(work: Callable[[Any], Any]) -> Any:
            nonlocal calls
            calls += 1
            answer = answers.pop(0)
            if isinstance(answer, dict):
                await slow_read.wait()
            return answer

        rooms = WaitingRooms(
            transaction, "test-secret-" * 4, refresh_s=60.0, admission_ttl_s=600.0
        )
        reading = asyncio.create_task(rooms.room("s1"))
        while calls < 1:
            await asyncio.sleep(0)
        opens_at = room(True).opens_at
        await rooms.set_room("s1", active=True, opens_at=opens_at, admit_per_minute=60)
        await rooms.set_room("s2", active=False, opens_at=opens_at, admit_per_minute=60)
        slow_read.set()
        await reading
        return [await rooms.room("s1"), await rooms.room("s2")], calls

    found, calls = asyncio.run(scenario())

    assert found == [room(True, "s1"), None]
    assert calls == 3
