"""Pooled Postgres connections: tested after sitting idle, not on every use."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from sqlalchemy import text

from persistence.database import Database

IDLE_S = 0.3


@pytest.fixture
def pooled(postgres_url: str) -> Iterator[tuple[Database, list[int]]]:
    """A one-connection pool, and a list that counts its pings."""
    database = Database(postgres_url, pool_size=1, ping_after_idle_s=IDLE_S)
    pings: list[int] = []
    dialect = database.engine.dialect
    ping = dialect.do_ping

    def counted(dbapi_connection: object) -> bool:
        pings.append(1)
        return ping(dbapi_connection)

    dialect.do_ping = counted  # type: ignore[method-assign]
    yield database, pings
    database.dispose()


def backend_pid(database: Database) -> int:
    with database.engine.connect() as connection:
        pid: int = connection.scalar(text("SELECT pg_backend_pid()"))
    return pid


def test_a_connection_in_steady_use_is_not_pinged(
    pooled: tuple[Database, list[int]],
) -> None:
    database, pings = pooled

    first = backend_pid(database)
    second = backend_pid(database)

    assert second == first
    assert pings == []


def test_an_idle_connection_the_server_dropped_is_replaced_unnoticed(
    pooled: tuple[Database, list[int]], postgres_url: str
) -> None:
    database, pings = pooled
    dropped = backend_pid(database)
    # What a database restart does to the pool's connection.
    other = Database(postgres_url, pool_size=1, ping_after_idle_s=None)
    with other.engine.begin() as connection:
        connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": dropped})
    other.dispose()
    time.sleep(IDLE_S + 0.1)

    replacement = backend_pid(database)

    assert replacement != dropped
    assert pings == [1]
