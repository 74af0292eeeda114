"""Fixtures for tests that run showtime actors on the session's Ray cluster."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import ray

from actors.directory import ShowtimeDirectory
from actors.showtime_actor import ACTOR_NAME_PREFIX, ActorOptions
from tests.factories import engine_config

OptionsFactory = Callable[..., ActorOptions]


@pytest.fixture
def make_options(database_url: str) -> OptionsFactory:
    def build(
        *, idle_s: float = 600.0, sweep_interval_s: float = 0.2, **engine: float
    ) -> ActorOptions:
        return ActorOptions(
            database_url=database_url,
            database_pool_size=2,
            engine=engine_config(**engine),
            idle_s=idle_s,
            sweep_interval_s=sweep_interval_s,
            log_level="WARNING",
        )

    return build


@pytest.fixture
def make_directory(
    ray_cluster: str, make_options: OptionsFactory
) -> Iterator[Callable[..., ShowtimeDirectory]]:
    """Directories for this test; every showtime actor is killed afterwards."""

    def build(**options: float) -> ShowtimeDirectory:
        return ShowtimeDirectory(make_options(**options), namespace=ray_cluster)

    yield build

    # Detached actors outlive their creator; remove this test's ones.
    for entry in ray.util.list_named_actors(all_namespaces=True):
        if entry["namespace"] == ray_cluster and entry["name"].startswith(
            ACTOR_NAME_PREFIX
        ):
            try:
                ray.kill(ray.get_actor(entry["name"], namespace=ray_cluster))
            except ValueError:
                continue  # Exited by itself meanwhile.
