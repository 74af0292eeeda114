"""Anti-scalping caps: seats one customer, or one client address, may hold at
once across every showtime.

Checked in the replica for a whole batch of hold requests with one query, in
arrival order, counting what the batch itself takes. A customer's new hold on a
showtime replaces their old one there, so that one does not count against it.
Two replicas deciding at the same moment can each let a request through, so a
cap can be passed by one batch's worth; it stops a script filling a room, not a
lucky race.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from actors.errors import HoldCapExceeded
from persistence.showtime_store import HeldSeats


@dataclass(frozen=True, slots=True)
class HoldRequest:
    customer_id: str
    showtime_id: str
    client_address: str | None
    seats: int


def check_caps(
    requests: Sequence[HoldRequest],
    held: Sequence[HeldSeats],
    *,
    per_customer: int,
    per_address: int,
) -> list[HoldCapExceeded | None]:
    """One verdict per request: None if it may go on, else the error to answer."""
    holding = list(held)
    verdicts: list[HoldCapExceeded | None] = []
    for request in requests:
        others = [
            h
            for h in holding
            if not (
                h.customer_id == request.customer_id
                and h.showtime_id == request.showtime_id
            )
        ]
        customer_total = request.seats + sum(
            h.seats for h in others if h.customer_id == request.customer_id
        )
        address_total = request.seats + sum(
            h.seats
            for h in others
            if request.client_address is not None
            and h.client_address == request.client_address
        )
        if per_customer and customer_total > per_customer:
            verdicts.append(
                HoldCapExceeded(
                    f"A customer may hold at most {per_customer} seats at once "
                    "across all showtimes; release or buy some first",
                    limit=per_customer,
                    held=customer_total - request.seats,
                )
            )
        elif per_address and request.client_address and address_total > per_address:
            verdicts.append(
                HoldCapExceeded(
                    f"At most {per_address} seats may be held at once from one "
                    "network address",
                    limit=per_address,
                )
            )
        else:
            verdicts.append(None)
            holding = [
                *others,
                HeldSeats(
                    request.customer_id,
                    request.showtime_id,
                    request.client_address,
                    request.seats,
                ),
            ]
    return verdicts
