"""Anti-scalping caps across showtimes, decided for a batch in arrival order."""

from __future__ import annotations

from actors.errors import HoldCapExceeded
from persistence.showtime_store import HeldSeats
from serve.booking.caps import HoldRequest, check_caps


def test_a_customer_is_capped_across_showtimes_counting_the_batch_itself() -> None:
    held = [HeldSeats("alice", "s1", None, 6)]
    verdicts = check_caps(
        [
            HoldRequest("alice", "s2", None, 4),  # 10 in all: fine
            HoldRequest("alice", "s3", None, 3),  # 13: over
            HoldRequest("bob", "s3", None, 10),  # someone else
        ],
        held,
        per_customer=12,
        per_address=0,
    )
    assert verdicts[0] is None
    assert isinstance(verdicts[1], HoldCapExceeded)
    assert verdicts[1].ids["limit"] == 12
    assert verdicts[2] is None


def test_a_new_hold_on_the_same_showtime_replaces_the_old_one_in_the_count() -> None:
    held = [HeldSeats("alice", "s1", None, 10)]
    verdicts = check_caps(
        [HoldRequest("alice", "s1", None, 8)], held, per_customer=12, per_address=0
    )
    assert verdicts == [None]


def test_one_address_is_capped_across_customers_only_when_the_cap_is_on() -> None:
    held = [HeldSeats("alice", "s1", "10.0.0.7", 8)]
    requests = [HoldRequest("bob", "s2", "10.0.0.7", 4)]

    off = check_caps(requests, held, per_customer=12, per_address=0)
    on = check_caps(requests, held, per_customer=12, per_address=10)

    assert off == [None]
    assert isinstance(on[0], HoldCapExceeded)
    assert "network address" in on[0].detail
