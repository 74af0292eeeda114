"""Engines, sessions and schema migrations.

A `Database` is built by an entry point (or an actor's constructor) from a URL;
nothing here connects at import time.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import psycopg
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

logger = logging.getLogger(__name__)

T = TypeVar("T")

CONNECT_TIMEOUT_S = 5
STATEMENT_TIMEOUT_MS = 15_000
SQLITE_BUSY_TIMEOUT_MS = 15_000
# Reads on an `AsyncReader` take turns, so one stuck read must not hold the
# others for long.
ASYNC_READ_TIMEOUT_MS = 2_000
# A pooled connection idle longer than this is tested before it is used.
PING_AFTER_IDLE_S = 1.0
_IDLE_SINCE = "marquee_idle_since"


def create_database_engine(
    url: str, *, pool_size: int = 5, ping_after_idle_s: float | None = PING_AFTER_IDLE_S
) -> Engine:
    """An engine with timeouts on connect and on every statement.

    A connection that sat in the pool longer than `ping_after_idle_s` is tested
    as it leaves (a round trip), so a database restart while a process was
    quiet costs nobody a failed request. Connections in steady use are not
    tested: a ping on every checkout cost a tenth of the hold path's
    throughput. If the database restarts while they are in use, the requests
    on them fail (retryably) and the pool drops every connection older than
    the failure. A showtime actor passes None: a failed commit is already
    answered "retry" and rebuilt.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database:
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        )
        event.listen(engine, "connect", _configure_sqlite)
        return engine

    connect_args: dict[str, Any] = {}
    if parsed.get_backend_name() == "postgresql":
        connect_args = {
            "connect_timeout": CONNECT_TIMEOUT_S,
            "options": f"-c statement_timeout={STATEMENT_TIMEOUT_MS}",
        }
    engine = create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_recycle=1800,
        pool_timeout=CONNECT_TIMEOUT_S,
        connect_args=connect_args,
    )
    if ping_after_idle_s is not None:
        _ping_after_idle(engine, ping_after_idle_s)
    return engine


def _ping_after_idle(engine: Engine, idle_s: float) -> None:
    @event.listens_for(engine, "checkin")
    def checked_in(dbapi_connection: Any, record: Any) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def checked_out(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        # A record's info is cleared when its connection is replaced, so a
        # new connection is never pinged.
        idle_since = record.info.get(_IDLE_SINCE)
        if idle_since is None or time.monotonic() - idle_since < idle_s:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            # The pool discards this connection and checks out another.
            raise DisconnectionError("an idle pooled connection was dead") from exc


def _configure_sqlite(dbapi_connection: Any, connection_record: Any) -> None:
    # WAL lets readers run beside the one writer; FULL syncs every commit, since
    # an acknowledged booking must survive a power cut too.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()


class Database:
    """An engine and the session factory over it."""

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 5,
        ping_after_idle_s: float | None = PING_AFTER_IDLE_S,
    ) -> None:
        self.url = url
        self.engine = create_database_engine(
            url, pool_size=pool_size, ping_after_idle_s=ping_after_idle_s
        )
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    def session(self) -> Session:
        return self.sessions()

    def dispose(self) -> None:
        self.engine.dispose()


class AsyncReader:
    """One autocommit Postgres connection for short reads awaited on an event
    loop, with no worker thread in between.

    Reads take turns on it (each takes well under a millisecond). A connection
    the server dropped is replaced by the next read; the read that found it
    dropped fails.
    """

    def __init__(self, url: str) -> None:
        parsed = make_url(url)
        self._conninfo = parsed.set(drivername="postgresql").render_as_string(
            hide_password=False
        )
        self._connection: psycopg.AsyncConnection[Any] | None = None
        self._turn = asyncio.Lock()

    @staticmethod
    def supports(url: str) -> bool:
        return make_url(url).get_backend_name() == "postgresql"

    async def run(
        self, read: Callable[[psycopg.AsyncConnection[Any]], Awaitable[T]]
    ) -> T:
        async with self._turn:
            connection = self._connection
            if connection is None or connection.closed or connection.broken:
                connection = await psycopg.AsyncConnection.connect(
                    self._conninfo,
                    autocommit=True,
                    connect_timeout=CONNECT_TIMEOUT_S,
                    options=f"-c statement_timeout={ASYNC_READ_TIMEOUT_MS}",
                )
                self._connection = connection
            return await read(connection)

    async def close(self) -> None:
        if self._connection is not None:
            await self._connection.close()
            self._connection = None
