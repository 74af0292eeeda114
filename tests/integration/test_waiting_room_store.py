"""The rooms the hold path reads: every active room, in one query."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from persistence import waiting_room_store as store
from persistence.database import Database
from tests.factories import create_showtime


def test_active_rooms_are_read_together_and_a_room_switched_off_is_not(
    database: Database,
) -> None:
    now = datetime.now(UTC)
    opens_at = now + timedelta(minutes=10)
    on, off, moved = (create_showtime(database, now=now) for _ in range(3))
    with database.sessions.begin() as session:
        for showtime_id in (on, off, moved):
            store.set_room(
                session,
                showtime_id=showtime_id,
                active=True,
                opens_at=opens_at,
                admit_per_minute=100,
                now=now,
            )
    with database.sessions.begin() as session:
        store.set_room(
            session,
            showtime_id=off,
            active=False,
            opens_at=opens_at,
            admit_per_minute=100,
            now=now,
        )
        store.set_room(
            session,
            showtime_id=moved,
            active=True,
            opens_at=opens_at + timedelta(minutes=5),
            admit_per_minute=30,
            now=now,
        )

    with database.sessions.begin() as session:
        rooms = store.active_rooms(session)

    # The database is shared with other tests: look at this test's rooms only.
    assert {on, moved} <= rooms.keys()
    assert off not in rooms
    assert rooms[on].showtime_id == on
    assert rooms[moved].admit_per_minute == 30
    assert rooms[moved].opens_at == opens_at + timedelta(minutes=5)
