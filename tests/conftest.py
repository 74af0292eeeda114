"""Fixtures shared by the whole suite: databases and the one Ray cluster.

Postgres tests use TEST_DATABASE_URL. When it is unreachable they skip with the
reason, unless MARQUEE_REQUIRE_SERVICES=1 (CI), where they fail.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from persistence.database import Database
from persistence.models import Base
from persistence.schema import migrate

DEFAULT_TEST_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
REQUIRE_SERVICES = os.environ.get("MARQUEE_REQUIRE_SERVICES") == "1"
RAY_NAMESPACE = f"marquee-test-{os.getpid()}"

# The suite's private cluster needs no token; real clusters keep theirs.
os.environ.setdefault("RAY_AUTH_MODE", "disabled")


def _unavailable(reason: str) -> None:
    if REQUIRE_SERVICES:
        pytest.fail(f"{reason} (MARQUEE_REQUIRE_SERVICES=1)", pytrace=False)
    pytest.skip(reason)


def _reset_schema(url: str) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            Base.metadata.drop_all(connection)
            connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
    finally:
        engine.dispose()
    migrate(url)


@pytest.fixture(scope="session")
def postgres_url() -> str:
    url = os.environ.get("TEST_DATABASE_URL", DEFAULT_TEST_DATABASE_URL)
    probe = create_engine(url, connect_args={"connect_timeout": 3})
    try:
        with probe.connect() as connection:
            connection.execute(text("SELECT 1"))
    except OperationalError as exc:
        _unavailable(f"Postgres at {url} is unreachable: {exc.orig}")
    finally:
        probe.dispose()
    _reset_schema(url)
    return url


DEFAULT_TEST_REDIS_URL = "redis://127.0.0.1:6379/15"


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The Redis at TEST_REDIS_URL, emptied; skips (or fails) when unreachable."""
    import redis

    url = os.environ.get("TEST_REDIS_URL", DEFAULT_TEST_REDIS_URL)
    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.flushdb()
    except redis.exceptions.RedisError as exc:
        _unavailable(f"Redis at {url} is unreachable: {exc}")
    finally:
        client.close()
    return url


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    path: Path = tmp_path_factory.mktemp("sqlite") / "marquee.db"
    url = f"sqlite:///{path}"
    migrate(url)
    return url


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str:
    """Each test using this runs once per backend."""
    name = "postgres_url" if request.param == "postgres" else "sqlite_url"
    url: str = request.getfixturevalue(name)
    return url


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    database = Database(database_url, pool_size=2)
    yield database
    database.dispose()


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[str]:
    """One small local Ray cluster for the whole session; yields its namespace."""
    import ray

    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        namespace=RAY_NAMESPACE,
        # Actors defined in test modules must be importable in worker processes.
        runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join(sys.path)}},
    )
    yield RAY_NAMESPACE
    ray.shutdown()


def pytest_report_header() -> list[str]:
    return [f"MARQUEE_REQUIRE_SERVICES={'1' if REQUIRE_SERVICES else '0'}"]


_MEASUREMENTS: list[str] = []


@pytest.fixture
def report_measurement(request: pytest.FixtureRequest) -> Callable[[str], None]:
    """Record a figure a test measured; the run prints them all at the end.

    Figures are printed, never asserted: tests check behaviour, not timing.
    """

    def record(text: str) -> None:
        _MEASUREMENTS.append(f"{request.node.name}: {text}")

    return record


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _MEASUREMENTS:
        terminalreporter.section("measured")
        for line in _MEASUREMENTS:
            terminalreporter.write_line(line)
