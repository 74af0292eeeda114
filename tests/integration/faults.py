"""Real database faults for tests: the database itself refuses a write."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text

from persistence.database import Database

TRIGGER = "marquee_test_fault"


@contextmanager
def journal_writes_fail(database: Database, showtime_id: str) -> Iterator[None]:
    """Make every journal insert for `showtime_id` fail inside the database."""
    # Ids come from the tests' own factories, never from outside input.
    quoted = showtime_id.replace("'", "''")
    with database.engine.begin() as connection:
        if connection.dialect.name == "sqlite":
            connection.execute(
                text(
                    f"CREATE TRIGGER {TRIGGER} BEFORE INSERT ON showtime_events "
                    f"WHEN NEW.showtime_id = '{quoted}' "
                    "BEGIN SELECT RAISE(ABORT, 'injected fault'); END"
                )
            )
        else:
            connection.execute(
                text(
                    f"CREATE OR REPLACE FUNCTION {TRIGGER}() RETURNS trigger AS $$ "
                    "BEGIN RAISE EXCEPTION 'injected fault'; END $$ LANGUAGE plpgsql"
                )
            )
            connection.execute(
                text(
                    f"CREATE TRIGGER {TRIGGER} BEFORE INSERT ON showtime_events "
                    f"FOR EACH ROW WHEN (NEW.showtime_id = '{quoted}') "
                    f"EXECUTE FUNCTION {TRIGGER}()"
                )
            )
    try:
        yield
    finally:
        with database.engine.begin() as connection:
            if connection.dialect.name == "sqlite":
                connection.execute(text(f"DROP TRIGGER {TRIGGER}"))
            else:
                connection.execute(text(f"DROP TRIGGER {TRIGGER} ON showtime_events"))
