"""Engines, sessions and schema migrations.

A `Database` is built by an entry point (or an actor's constructor) from a URL;
nothing here connects at import time.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 5
STATEMENT_TIMEOUT_MS = 15_000
SQLITE_BUSY_TIMEOUT_MS = 15_000


def create_database_engine(
    url: str, *, pool_size: int = 5, pre_ping: bool = True
) -> Engine:
    """An engine with timeouts on connect and on every statement.

    `pre_ping` tests each connection as it leaves the pool (a round trip), so a
    database restart costs nobody a failed request. A showtime actor turns it
    off: it checks out a connection once per group commit, a failed commit is
    already answered "retry" and rebuilt, and the ping would add a round trip
    to every commit that waits on it.
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
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=pre_ping,
        pool_recycle=1800,
        pool_timeout=CONNECT_TIMEOUT_S,
        connect_args=connect_args,
    )


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

    def __init__(self, url: str, *, pool_size: int = 5, pre_ping: bool = True) -> None:
        self.url = url
        self.engine = create_database_engine(
            url, pool_size=pool_size, pre_ping=pre_ping
        )
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    def session(self) -> Session:
        return self.sessions()

    def dispose(self) -> None:
        self.engine.dispose()
