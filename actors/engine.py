"""A showtime's seat map made durable: group commit, rollback, restore.

`ShowtimeEngine` has no Ray in it; the Ray actor in `actors.showtime_actor` wraps
one engine per process, and tests drive engines directly.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from actors.codec import (
    decode_event,
    decode_result,
    encode_event,
    encode_result,
    fingerprint,
)
from actors.errors import (
    CommitFailed,
    MarqueeError,
    RequestIdConflict,
    ShowtimeNotFound,
    ShowtimeUnavailable,
)
from actors.layout import SeatCategory
from actors.messages import (
    BookingCancelled,
    BookingConfirmed,
    Command,
    Event,
    HoldExtended,
    HoldPlaced,
    HoldPolicy,
    HoldReleased,
    HoldsExpired,
    Result,
    SeatMapView,
    SeatsBlocked,
    SeatsUnblocked,
    ShowtimeCancelled,
    ShowtimeDefinition,
)
from actors.seat_map import SeatMap, new_id
from persistence import showtime_store as store
from persistence.database import Database
from persistence.models import HoldStatus

logger = logging.getLogger(__name__)

Outcome = Result | MarqueeError
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class EngineConfig:
    hold_ttl_s: float = 480.0
    max_seats_per_hold: int = 10
    snapshot_interval_s: float = 60.0
    snapshot_every_events: int = 1000
    request_id_retention_s: float = 900.0
    payment_window_s: float = 900.0

    @property
    def policy(self) -> HoldPolicy:
        return HoldPolicy(
            hold_ttl_s=self.hold_ttl_s,
            max_seats_per_hold=self.max_seats_per_hold,
            payment_window_s=self.payment_window_s,
        )


@dataclass(frozen=True, slots=True)
class _Remembered:
    fingerprint: str
    result: Result
    committed_at: datetime


@dataclass(frozen=True, slots=True)
class _Loaded:
    epoch: int
    seat_map: SeatMap
    snapshot_version: int
    remembered: dict[str, _Remembered]


@dataclass(slots=True)
class _Item:
    """One command (or a sweep of expired holds, `command` None) awaiting commit."""

    command: Command | None
    fingerprint: str | None
    events: tuple[Event, ...]
    outcome: Outcome | None
    future: asyncio.Future[Outcome] | None


@dataclass(slots=True)
class _Group:
    items: list[_Item] = field(default_factory=list)

    def event_count(self) -> int:
        return sum(len(item.events) for item in self.items)


class ShowtimeEngine:
    """Owns one showtime's seat map and writes every change to the journal.

    Concurrency invariant: the engine runs on one event loop. `submit` decides
    and applies a whole batch of commands with no `await` in between, so no
    other call sees a half-applied batch. Exactly one commit is in flight at a
    time; whatever arrives meanwhile is applied in memory and waits in the next
    group, which is what makes commits shared (group commit). A caller's answer
    is released only after the commit that carries it.

    `_committed` is the state as of the last commit and is never mutated; on a
    failed commit the working map is rebuilt from it and the commands still
    waiting are decided again.
    """

    def __init__(
        self,
        database: Database,
        showtime_id: str,
        config: EngineConfig,
        *,
        clock: Clock = utc_now,
        id_factory: Callable[[], str] = new_id,
    ) -> None:
        self._database = database
        self.showtime_id = showtime_id
        self._config = config
        self._clock = clock
        self._new_id = id_factory

        self._epoch = 0
        self._seat_map: SeatMap | None = None
        self._committed: SeatMap | None = None
        self._view: SeatMapView | None = None
        self._remembered: dict[str, _Remembered] = {}
        self._waiting: dict[str, _Item] = {}
        self._pending = _Group()
        self._idle = asyncio.Event()
        self._idle.set()
        self._flusher: asyncio.Task[None] | None = None
        self._snapshot_version = 0
        self._snapshot_at = 0.0
        self.last_activity = time.monotonic()
        # Counters for operators and benchmarks: commits, the events they
        # carried, and the seconds spent writing them.
        self.commits = 0
        self.committed_events = 0
        self.commit_seconds = 0.0

    # Activation ----------------------------------------------------------------

    def activate(self) -> None:
        """Claim the showtime and rebuild its state from the database (blocking).

        Raises `ShowtimeNotFound` for an unknown showtime.
        """
        self._install(self._load())

    def _load(self) -> _Loaded:
        """Claim and read everything a restore needs; changes nothing in memory.

        Safe to run in a worker thread while the event loop keeps serving.
        """
        now = self._clock()
        since = now - timedelta(seconds=self._config.request_id_retention_s)
        try:
            with self._database.sessions.begin() as session:
                spec = store.load_spec(session, self.showtime_id)
                claim = store.claim(session, self.showtime_id, now)
                snapshot = store.latest_snapshot(session, self.showtime_id)
                after = 0 if snapshot is None else snapshot[0]
                journal = store.journal_after(session, self.showtime_id, after)
                remembered = store.remembered_outcomes(session, self.showtime_id, since)
        except store.UnknownShowtime as exc:
            raise ShowtimeNotFound(
                "No such showtime", showtime_id=self.showtime_id
            ) from exc

        definition = ShowtimeDefinition(
            showtime_id=spec.showtime_id,
            layout_rows=spec.layout,
            starts_at=spec.starts_at,
            prices_cents={
                SeatCategory(category): cents
                for category, cents in spec.prices_cents.items()
            },
            currency=spec.currency,
            cancelled=spec.cancelled,
        )
        policy = self._config.policy
        if snapshot is None:
            seat_map = SeatMap(definition, policy, id_factory=self._new_id)
        else:
            seat_map = SeatMap.from_snapshot(
                definition, policy, snapshot[1], id_factory=self._new_id
            )
        for version, payload in journal:
            seat_map.apply(decode_event(payload))
            if seat_map.version != version:
                raise RuntimeError(
                    f"showtime {self.showtime_id}: journal gap at version {version}"
                )
        if seat_map.version != claim.version:
            raise RuntimeError(
                f"showtime {self.showtime_id}: restored version {seat_map.version} "
                f"but the ledger says {claim.version}"
            )
        seat_map.check_invariants()
        logger.info(
            "showtime %s restored at version %d (epoch %d, %d journal entries "
            "replayed)",
            self.showtime_id,
            seat_map.version,
            claim.epoch,
            len(journal),
            extra={"showtime_id": self.showtime_id},
        )
        return _Loaded(
            epoch=claim.epoch,
            seat_map=seat_map,
            snapshot_version=after,
            remembered={
                item.request_id: _Remembered(
                    fingerprint=item.fingerprint,
                    result=decode_result(item.outcome),
                    committed_at=item.committed_at,
                )
                for item in remembered
            },
        )

    def _install(self, loaded: _Loaded) -> None:
        self._epoch = loaded.epoch
        self._committed = loaded.seat_map
        self._seat_map = loaded.seat_map.clone()
        self._view = loaded.seat_map.view()
        self._snapshot_version = loaded.snapshot_version
        self._snapshot_at = time.monotonic()
        self._remembered = loaded.remembered

    @property
    def epoch(self) -> int:
        return self._epoch

    def _working(self) -> SeatMap:
        if self._seat_map is None:
            raise RuntimeError("ShowtimeEngine.activate() was not called")
        return self._seat_map

    def committed(self) -> SeatMap:
        """The state as of the last commit. Callers must not change it."""
        if self._committed is None:
            raise RuntimeError("ShowtimeEngine.activate() was not called")
        return self._committed

    def view(self) -> SeatMapView:
        """The seat map as of the last commit, never showing uncommitted changes."""
        # Built on demand: during a rush commits far outnumber reads.
        if self._view is None or self._view.version != self.committed().version:
            self._view = self.committed().view()
        return self._view

    # Commands ------------------------------------------------------------------

    async def submit(self, commands: Sequence[Command]) -> list[Outcome]:
        """Apply `commands` in order; one outcome each, after their commit.

        A rejected command is answered at once with its error and changes
        nothing. A command whose request id was seen before gets the first
        answer again.
        """
        seat_map = self._working()
        self.last_activity = time.monotonic()
        now = self._clock()
        answers: list[Outcome | asyncio.Future[Outcome]] = []
        loop = asyncio.get_running_loop()

        for command in commands:
            digest = fingerprint(command)
            earlier = self._earlier_answer(command.request_id, digest)
            if earlier is not None:
                answers.append(earlier)
                continue
            decision = seat_map.handle(command, now)
            if isinstance(decision.outcome, MarqueeError):
                if decision.events:
                    self._pending.items.append(
                        _Item(None, None, decision.events, None, None)
                    )
                answers.append(decision.outcome)
                continue
            item = _Item(
                command=command,
                fingerprint=digest,
                events=decision.events,
                outcome=decision.outcome,
                future=loop.create_future(),
            )
            self._pending.items.append(item)
            self._waiting[command.request_id] = item
            answers.append(item.future)  # type: ignore[arg-type]

        if self._pending.items:
            self._start_flush()
        return [
            await answer if isinstance(answer, asyncio.Future) else answer
            for answer in answers
        ]

    def _earlier_answer(
        self, request_id: str, digest: str
    ) -> Outcome | asyncio.Future[Outcome] | None:
        remembered = self._remembered.get(request_id)
        if remembered is not None:
            if remembered.fingerprint != digest:
                return self._conflict(request_id)
            return remembered.result
        waiting = self._waiting.get(request_id)
        if waiting is not None:
            if waiting.fingerprint != digest:
                return self._conflict(request_id)
            return waiting.future
        return None

    def _conflict(self, request_id: str) -> RequestIdConflict:
        return RequestIdConflict(
            "This request id was already used for a different request",
            request_id=request_id,
            showtime_id=self.showtime_id,
        )

    def expire_holds(self) -> bool:
        """Queue the release of holds past their expiry; True if there were any."""
        event = self._working().expire_holds(self._clock())
        if event is None:
            return False
        self._pending.items.append(_Item(None, None, (event,), None, None))
        self._start_flush()
        return True

    def forget_old_request_ids(self) -> int:
        cutoff = self._clock() - timedelta(seconds=self._config.request_id_retention_s)
        # Ids are remembered in commit order, so the stale ones are at the
        # front: a tick reads as many as it forgets, not every id of the last
        # retention window (over a million during a long rush).
        stale = [
            request_id
            for request_id, _ in itertools.takewhile(
                lambda entry: entry[1].committed_at < cutoff,
                self._remembered.items(),
            )
        ]
        for request_id in stale:
            del self._remembered[request_id]
        return len(stale)

    # Commits -------------------------------------------------------------------

    def _start_flush(self) -> None:
        self._idle.clear()
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.get_running_loop().create_task(self._flush_loop())

    async def _flush_loop(self) -> None:
        while self._pending.items:
            group, self._pending = self._pending, _Group()
            sealed = self._working().clone()
            await self._commit(group, sealed)
        self._idle.set()

    async def _commit(self, group: _Group, sealed: SeatMap) -> None:
        committed = self.committed()
        batch = self._journal_batch(group, committed.version)
        now = self._clock()
        started = time.perf_counter()
        try:
            await asyncio.to_thread(self._write, batch, committed.version, now)
        except store.StaleWriter:
            logger.warning(
                "showtime %s: the journal moved on under epoch %d; reloading",
                self.showtime_id,
                self._epoch,
                extra={"showtime_id": self.showtime_id},
            )
            moved = ShowtimeUnavailable(
                "The showtime was reloaded; retry the same request",
                showtime_id=self.showtime_id,
            )
            # Reload first: a caller told to retry must find the newer state.
            await self._reload()
            self._fail(group, moved)
            return
        except (SQLAlchemyError, OSError):
            logger.exception(
                "showtime %s: commit of %d events failed",
                self.showtime_id,
                len(batch.entries),
                extra={"showtime_id": self.showtime_id},
            )
            failure = CommitFailed(
                "The change could not be saved and was not made; retry the same "
                "request",
                showtime_id=self.showtime_id,
            )
            self._fail(group, failure)
            self._rebuild_working_state()
            return

        self.commits += 1
        self.committed_events += len(batch.entries)
        self.commit_seconds += time.perf_counter() - started
        self._committed = sealed
        for item in group.items:
            if item.command is None or item.future is None:
                continue
            if isinstance(item.outcome, MarqueeError) or item.outcome is None:
                continue
            self._remembered[item.command.request_id] = _Remembered(
                fingerprint=item.fingerprint or "",
                result=item.outcome,
                committed_at=now,
            )
            del self._waiting[item.command.request_id]
            if not item.future.done():
                item.future.set_result(item.outcome)
        await self._snapshot_if_due()

    def _write(
        self, batch: store.JournalBatch, expected_version: int, now: datetime
    ) -> None:
        with self._database.sessions.begin() as session:
            store.append_journal(
                session,
                showtime_id=self.showtime_id,
                epoch=self._epoch,
                expected_version=expected_version,
                batch=batch,
                now=now,
            )

    def _fail(self, group: _Group, error: MarqueeError) -> None:
        for item in group.items:
            if item.command is not None:
                self._waiting.pop(item.command.request_id, None)
            if item.future is not None and not item.future.done():
                item.future.set_result(error)

    def _rebuild_working_state(self) -> None:
        """Start again from the committed state and re-decide what still waits.

        The waiting commands were decided against changes that were never saved,
        so their answers are not yet known; they are decided again now.
        """
        self._seat_map = self.committed().clone()
        waiting, self._pending = self._pending, _Group()
        now = self._clock()
        for item in waiting.items:
            if item.command is None:
                event = self._seat_map.expire_holds(now)
                if event is not None:
                    self._pending.items.append(_Item(None, None, (event,), None, None))
                continue
            decision = self._seat_map.handle(item.command, now)
            if isinstance(decision.outcome, MarqueeError):
                if decision.events:
                    self._pending.items.append(
                        _Item(None, None, decision.events, None, None)
                    )
                self._waiting.pop(item.command.request_id, None)
                if item.future is not None and not item.future.done():
                    item.future.set_result(decision.outcome)
                continue
            item.events = decision.events
            item.outcome = decision.outcome
            self._pending.items.append(item)

    async def _reload(self) -> None:
        """Replace memory with what the database holds, then re-decide waiters."""
        try:
            loaded = await asyncio.to_thread(self._load)
        except (SQLAlchemyError, OSError):
            logger.exception(
                "showtime %s: reload failed",
                self.showtime_id,
                extra={"showtime_id": self.showtime_id},
            )
        else:
            self._install(loaded)
        self._rebuild_working_state()

    def _journal_batch(self, group: _Group, base_version: int) -> store.JournalBatch:
        """The rows one group adds: journal entries plus the hold/booking tables."""
        batch = store.JournalBatch.empty()
        version = base_version
        for item in group.items:
            last = len(item.events) - 1
            for position, event in enumerate(item.events):
                version += 1
                entry = store.JournalEntry(
                    version=version, kind=event.kind, payload=encode_event(event)
                )
                # The command's own event is the last; any before it is the
                # sweep of expired holds that preceded the command.
                answered = item.command is not None and position == last
                if answered and item.command is not None:
                    entry = dataclasses.replace(
                        entry,
                        request_id=item.command.request_id,
                        fingerprint=item.fingerprint,
                        outcome=_encode_outcome(item.outcome),
                    )
                batch.entries.append(entry)
                _project(event, batch)
        return batch

    # Snapshots -----------------------------------------------------------------

    async def _snapshot_if_due(self) -> None:
        committed = self.committed()
        changes = committed.version - self._snapshot_version
        if changes <= 0:
            return
        elapsed_s = time.monotonic() - self._snapshot_at
        # A snapshot costs as much as the map is big (closed holds are kept for
        # the retention window: tens of thousands during a sale), so they are
        # taken at most once per that many events. Both writing snapshots and
        # replaying the journal behind one then cost O(1) per event.
        every = max(self._config.snapshot_every_events, committed.records())
        if changes < every and elapsed_s < self._config.snapshot_interval_s:
            return
        await self.snapshot()

    async def snapshot(self) -> int:
        """Write a snapshot of the committed state; returns its version."""
        committed = self.committed()
        if committed.version == self._snapshot_version:
            return committed.version
        now = self._clock()
        cutoff = now - timedelta(seconds=self._config.request_id_retention_s)
        # Both maps forget the same old closed holds at the same moment, so the
        # snapshot equals memory and a restore from it equals what ran.
        committed.prune_closed_holds(cutoff)
        self._working().prune_closed_holds(cutoff)
        state = committed.to_snapshot()
        try:
            await asyncio.to_thread(self._write_snapshot, committed.version, state, now)
        except store.StaleWriter:
            logger.warning(
                "showtime %s: snapshot refused, a newer writer owns it",
                self.showtime_id,
                extra={"showtime_id": self.showtime_id},
            )
            return self._snapshot_version
        except (SQLAlchemyError, OSError):
            # A missing snapshot only makes the next restore replay more journal.
            logger.warning(
                "showtime %s: snapshot at version %d failed",
                self.showtime_id,
                committed.version,
                exc_info=True,
                extra={"showtime_id": self.showtime_id},
            )
            return self._snapshot_version
        self._snapshot_version = committed.version
        self._snapshot_at = time.monotonic()
        return committed.version

    def _write_snapshot(
        self, version: int, state: dict[str, object], now: datetime
    ) -> None:
        with self._database.sessions.begin() as session:
            store.write_snapshot(
                session,
                showtime_id=self.showtime_id,
                epoch=self._epoch,
                version=version,
                state=state,
                now=now,
            )

    async def drain(self) -> None:
        """Wait until every change applied so far is committed or failed."""
        while not self._idle.is_set():
            await self._idle.wait()

    @property
    def busy(self) -> bool:
        return not self._idle.is_set()


def _project(event: Event, batch: store.JournalBatch) -> None:
    """Add the hold and booking rows that `event` implies to `batch`."""
    match event:
        case HoldPlaced():
            if event.replaced_hold_id is not None:
                batch.holds_closed.append(
                    store.HoldClosed(
                        event.replaced_hold_id, HoldStatus.REPLACED, event.created_at
                    )
                )
            batch.holds_opened.append(
                store.HoldOpened(
                    hold_id=event.hold_id,
                    customer_id=event.customer_id,
                    seats=event.seats,
                    amount_cents=event.amount_cents,
                    created_at=event.created_at,
                    expires_at=event.expires_at,
                )
            )
        case HoldExtended():
            batch.holds_extended.append((event.hold_id, event.expires_at))
        case HoldReleased():
            batch.holds_closed.append(
                store.HoldClosed(event.hold_id, HoldStatus.RELEASED, event.released_at)
            )
        case HoldsExpired():
            batch.holds_closed.extend(
                store.HoldClosed(hold_id, HoldStatus.EXPIRED, event.expired_at)
                for hold_id in event.hold_ids
            )
        case BookingConfirmed():
            batch.holds_closed.append(
                store.HoldClosed(
                    event.hold_id, HoldStatus.CONFIRMED, event.confirmed_at
                )
            )
            batch.bookings_opened.append(
                store.BookingOpened(
                    booking_id=event.booking_id,
                    hold_id=event.hold_id,
                    customer_id=event.customer_id,
                    seats=event.seats,
                    payment_reference=event.payment_reference,
                    amount_cents=event.amount_cents,
                    tickets=tuple((t.ticket_id, t.seat) for t in event.tickets),
                    confirmed_at=event.confirmed_at,
                )
            )
        case BookingCancelled():
            batch.bookings_closed.append(
                store.BookingClosed(event.booking_id, event.cancelled_at)
            )
        case ShowtimeCancelled():
            batch.holds_closed.extend(
                store.HoldClosed(hold_id, HoldStatus.RELEASED, event.cancelled_at)
                for hold_id in event.released_hold_ids
            )
            batch.bookings_closed.extend(
                store.BookingClosed(booking_id, event.cancelled_at)
                for booking_id in event.cancelled_booking_ids
            )
        case SeatsBlocked() | SeatsUnblocked():
            # Blocks are staff decisions about this room only; the journal and
            # snapshots carry them and no other table needs them.
            return


def _encode_outcome(outcome: Outcome | None) -> dict[str, Any] | None:
    if outcome is None or isinstance(outcome, MarqueeError):
        return None
    return encode_result(outcome)
