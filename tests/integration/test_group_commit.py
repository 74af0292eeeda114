"""One group commit's rows, as both writers (psycopg on Postgres, SQLAlchemy
Core elsewhere) put them in the tables."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from persistence import showtime_store as store
from persistence.database import Database
from persistence.models import HoldRecord, HoldStatus, ShowtimeEventRecord
from tests.factories import create_showtime


def test_a_group_opens_extends_and_closes_holds_in_its_order(
    database: Database,
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    showtime_id = create_showtime(database, now=now)
    kept, dropped = f"{showtime_id}~kept", f"{showtime_id}~dropped"
    first, last = now + timedelta(minutes=10), now + timedelta(minutes=20)
    with database.sessions.begin() as session:
        claim = store.claim(session, showtime_id, now)
    batch = store.JournalBatch.empty()
    batch.entries = [
        store.JournalEntry(
            version=claim.version + n,
            kind="test",
            payload={"n": n},
            request_id=f"r{n}" if n % 2 else None,
            fingerprint="f" if n % 2 else None,
            outcome={"ok": n} if n % 2 else None,
        )
        for n in range(1, 5)
    ]
    batch.holds_opened = [
        store.HoldOpened(hold_id, "alice", seats, 1200, now, now + timedelta(minutes=8))
        for hold_id, seats in ((kept, ("A1", "A2")), (dropped, ("B1",)))
    ]
    # Extended twice in one group: the later extension is the one that stands.
    batch.holds_extended = [(kept, first), (kept, last)]
    batch.holds_closed = [store.HoldClosed(dropped, HoldStatus.RELEASED, now)]

    with database.sessions.begin() as session:
        store.append_journal(
            session,
            showtime_id=showtime_id,
            epoch=claim.epoch,
            expected_version=claim.version,
            batch=batch,
            now=now,
        )

    with database.sessions.begin() as session:
        rows = {
            row.id: row
            for row in session.scalars(
                select(HoldRecord).where(HoldRecord.showtime_id == showtime_id)
            )
        }
        journal = [
            (e.version, e.payload, e.request_id, e.fingerprint, e.outcome, e.epoch)
            for e in session.scalars(
                select(ShowtimeEventRecord)
                .where(ShowtimeEventRecord.showtime_id == showtime_id)
                .order_by(ShowtimeEventRecord.version)
            )
        ]
        version = store.ledger_version(session, showtime_id)
    assert version == claim.version + 4
    assert journal == [
        (
            claim.version + n,
            {"n": n},
            f"r{n}" if n % 2 else None,
            "f" if n % 2 else None,
            {"ok": n} if n % 2 else None,
            claim.epoch,
        )
        for n in range(1, 5)
    ]
    assert (rows[kept].status, rows[kept].expires_at) == (HoldStatus.ACTIVE, last)
    assert rows[kept].seats == ["A1", "A2"]
    assert (rows[dropped].status, rows[dropped].closed_at) == (
        HoldStatus.RELEASED,
        now,
    )


def test_a_group_from_a_stale_writer_writes_nothing(database: Database) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    showtime_id = create_showtime(database, now=now)
    with database.sessions.begin() as session:
        claim = store.claim(session, showtime_id, now)
    batch = store.JournalBatch.empty()
    batch.entries = [
        store.JournalEntry(version=claim.version + 1, kind="t", payload={})
    ]

    with pytest.raises(store.StaleWriter), database.sessions.begin() as session:
        store.append_journal(
            session,
            showtime_id=showtime_id,
            epoch=claim.epoch,
            expected_version=claim.version + 7,
            batch=batch,
            now=now,
        )

    with database.sessions.begin() as session:
        assert store.journal_after(session, showtime_id, claim.version) == []
