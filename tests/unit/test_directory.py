"""The directory answers within its deadline, even when an actor does not."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from actors.directory import ShowtimeDirectory
from actors.errors import ShowtimeUnavailable
from actors.messages import HoldSeats, SeatMapView
from actors.showtime_actor import ActorOptions
from tests.factories import engine_config


class StartingActor:
    """A handle to an actor that is still starting: calls wait in its queue."""

    def __init__(self) -> None:
        self.calls = 0
        self.submit = self.seat_map = self

    def remote(self, *args: Any) -> asyncio.Future[Any]:
        self.calls += 1
        return asyncio.get_running_loop().create_future()


@pytest.fixture
def starting(
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[ShowtimeDirectory, StartingActor]:
    options = ActorOptions(
        database_url="sqlite://",
        database_pool_size=1,
        engine=engine_config(),
        idle_s=60.0,
        sweep_interval_s=1.0,
    )
    directory = ShowtimeDirectory(options, namespace="test", answer_within_s=0.3)
    actor = StartingActor()
    monkeypatch.setattr(directory, "handle", lambda showtime_id: actor)
    return directory, actor


def test_commands_to_an_actor_that_does_not_answer_in_time_are_unavailable(
    starting: tuple[ShowtimeDirectory, StartingActor],
) -> None:
    directory, actor = starting
    commands = [HoldSeats("r1", "alice", ("A1",)), HoldSeats("r2", "bob", ("A2",))]

    outcomes = asyncio.run(directory.submit("s1", commands))

    assert [type(outcome) for outcome in outcomes] == [ShowtimeUnavailable] * 2
    assert actor.calls >= 1


def test_a_seat_map_the_actor_does_not_send_in_time_is_unavailable(
    starting: tuple[ShowtimeDirectory, StartingActor],
) -> None:
    directory, _ = starting

    view = asyncio.run(directory.seat_map("s1"))

    assert not isinstance(view, SeatMapView)
    assert isinstance(view, ShowtimeUnavailable)
