"""The errors Marquee's reservation core reports, each with a stable code.

    MarqueeError
    ├── InvalidRequest                 the request itself is wrong; retrying is useless
    │   ├── InvalidLayout              invalid_layout
    │   ├── UnknownSeat                unknown_seat
    │   ├── DuplicateSeat              duplicate_seat
    │   ├── InvalidSeatCount           invalid_seat_count
    │   ├── SeatLimitExceeded          seat_limit_exceeded
    │   ├── UnknownCategory            unknown_category
    │   ├── RequestIdConflict          request_id_conflict
    │   ├── ValidationFailed           validation_failed
    │   ├── PayloadTooLarge            payload_too_large
    │   └── MethodNotAllowed           method_not_allowed
    ├── Conflict                       the request is valid but the showtime says no
    │   ├── SeatUnavailable            seat_unavailable
    │   ├── NotEnoughSeats             not_enough_seats
    │   ├── SeatNotBlocked             seat_not_blocked
    │   ├── HoldExpired                hold_expired
    │   ├── HoldAlreadyConfirmed       hold_already_confirmed
    │   ├── BookingAlreadyCancelled    booking_already_cancelled
    │   ├── SalesClosed                sales_closed
    │   ├── EmailTaken                 email_taken
    │   ├── IdempotencyConflict        idempotency_conflict
    │   ├── HoldAlreadyOrdered         hold_already_ordered
    │   ├── AlreadyAdmitted            already_admitted
    │   ├── TicketCancelled            ticket_cancelled
    │   ├── WrongShowtime              wrong_showtime
    │   ├── CancellationClosed         cancellation_closed
    │   └── HoldCapExceeded            hold_cap_exceeded
    ├── NotFound
    │   ├── ShowtimeNotFound           showtime_not_found
    │   ├── HoldNotFound               hold_not_found
    │   ├── BookingNotFound            booking_not_found
    │   ├── MovieNotFound              movie_not_found
    │   ├── CinemaNotFound             cinema_not_found
    │   ├── AuditoriumNotFound         auditorium_not_found
    │   ├── ApiKeyNotFound             api_key_not_found
    │   ├── OrderNotFound              order_not_found
    │   ├── PaymentIntentNotFound      payment_intent_not_found
    │   ├── WaitingRoomNotFound        waiting_room_not_found
    │   └── RouteNotFound              route_not_found
    ├── NotAuthenticated               not_authenticated (who is asking is unknown)
    │   └── InvalidCredentials         invalid_credentials
    ├── Forbidden                      forbidden (known, but not allowed)
    │   └── WaitingRoomRequired        waiting_room_required
    ├── RateLimited                    rate_limited
    └── Unavailable                    nothing changed; the same request may be retried
        ├── CommitFailed               commit_failed
        ├── ShowtimeUnavailable        showtime_unavailable
        ├── DependencyUnavailable      dependency_unavailable
        └── Overloaded                 overloaded

Every error pickles (it crosses Ray process boundaries) and renders to a plain
dict; `serve.http.problems` alone maps codes to HTTP statuses.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar


class MarqueeError(Exception):
    """Base of every error Marquee reports on purpose."""

    code: ClassVar[str] = "marquee_error"
    title: ClassVar[str] = "Request failed"

    def __init__(self, detail: str, **ids: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.ids = ids

    def __reduce__(self) -> tuple[Any, ...]:
        return (restore_error, (type(self), self.detail, self.ids))

    def __eq__(self, other: object) -> bool:
        return (
            type(other) is type(self)
            and isinstance(other, MarqueeError)
            and (other.detail, other.ids) == (self.detail, self.ids)
        )

    def __hash__(self) -> int:
        return hash((type(self), self.detail))

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "detail": self.detail, **self.ids}


def restore_error(
    error_type: type[MarqueeError], detail: str, ids: dict[str, Any]
) -> MarqueeError:
    """Rebuild an error from its parts, whatever its own constructor takes."""
    error = Exception.__new__(error_type)
    MarqueeError.__init__(error, detail, **ids)
    return error


class InvalidRequest(MarqueeError):
    code = "invalid_request"
    title = "Invalid request"


class InvalidLayout(InvalidRequest):
    code = "invalid_layout"
    title = "Invalid auditorium layout"


class UnknownSeat(InvalidRequest):
    code = "unknown_seat"
    title = "Unknown seat"

    def __init__(self, seats: Sequence[str], showtime_id: str) -> None:
        super().__init__(
            f"No such seat in this auditorium: {', '.join(seats)}",
            seats=list(seats),
            showtime_id=showtime_id,
        )


class DuplicateSeat(InvalidRequest):
    code = "duplicate_seat"
    title = "Seat named twice"

    def __init__(self, seats: Sequence[str], showtime_id: str) -> None:
        super().__init__(
            f"Seats named more than once: {', '.join(seats)}",
            seats=list(seats),
            showtime_id=showtime_id,
        )


class InvalidSeatCount(InvalidRequest):
    code = "invalid_seat_count"
    title = "Invalid seat count"


class SeatLimitExceeded(InvalidRequest):
    code = "seat_limit_exceeded"
    title = "Too many seats"


class UnknownCategory(InvalidRequest):
    code = "unknown_category"
    title = "Unknown seat category"


class RequestIdConflict(InvalidRequest):
    code = "request_id_conflict"
    title = "Request id reused for a different request"


class ValidationFailed(InvalidRequest):
    code = "validation_failed"
    title = "Request validation failed"


class PayloadTooLarge(InvalidRequest):
    code = "payload_too_large"
    title = "Request body too large"


class MethodNotAllowed(InvalidRequest):
    code = "method_not_allowed"
    title = "Method not allowed"


class TicketForged(InvalidRequest):
    code = "ticket_forged"
    title = "Not a genuine ticket code"


class InvalidSignature(InvalidRequest):
    code = "invalid_signature"
    title = "Signature missing, wrong or too old"


class Conflict(MarqueeError):
    code = "conflict"
    title = "Conflict"


class SeatUnavailable(Conflict):
    code = "seat_unavailable"
    title = "Seat unavailable"

    def __init__(self, seats: Sequence[str], showtime_id: str) -> None:
        super().__init__(
            f"Seats not available: {', '.join(seats)}",
            seats=list(seats),
            showtime_id=showtime_id,
        )


class NotEnoughSeats(Conflict):
    code = "not_enough_seats"
    title = "Not enough seats together"


class SeatNotBlocked(Conflict):
    code = "seat_not_blocked"
    title = "Seat not blocked"

    def __init__(self, seats: Sequence[str], showtime_id: str) -> None:
        super().__init__(
            f"Seats are not blocked: {', '.join(seats)}",
            seats=list(seats),
            showtime_id=showtime_id,
        )


class HoldExpired(Conflict):
    code = "hold_expired"
    title = "Hold expired"


class HoldAlreadyConfirmed(Conflict):
    code = "hold_already_confirmed"
    title = "Hold already confirmed"


class BookingAlreadyCancelled(Conflict):
    code = "booking_already_cancelled"
    title = "Booking already cancelled"


class SalesClosed(Conflict):
    code = "sales_closed"
    title = "Sales closed"


class EmailTaken(Conflict):
    code = "email_taken"
    title = "Email already registered"


class IdempotencyConflict(Conflict):
    code = "idempotency_conflict"
    title = "Idempotency-Key reused for a different request"


class HoldAlreadyOrdered(Conflict):
    code = "hold_already_ordered"
    title = "The hold already has an order"


class AlreadyAdmitted(Conflict):
    code = "already_admitted"
    title = "Ticket already admitted"


class TicketCancelled(Conflict):
    code = "ticket_cancelled"
    title = "Ticket cancelled"


class WrongShowtime(Conflict):
    code = "wrong_showtime"
    title = "Ticket is for another showtime"


class CancellationClosed(Conflict):
    code = "cancellation_closed"
    title = "Too late to cancel"


class NotFound(MarqueeError):
    code = "not_found"
    title = "Not found"


class ShowtimeNotFound(NotFound):
    code = "showtime_not_found"
    title = "Showtime not found"


class HoldNotFound(NotFound):
    code = "hold_not_found"
    title = "Hold not found"


class BookingNotFound(NotFound):
    code = "booking_not_found"
    title = "Booking not found"


class MovieNotFound(NotFound):
    code = "movie_not_found"
    title = "Movie not found"


class CinemaNotFound(NotFound):
    code = "cinema_not_found"
    title = "Cinema not found"


class AuditoriumNotFound(NotFound):
    code = "auditorium_not_found"
    title = "Auditorium not found"


class ApiKeyNotFound(NotFound):
    code = "api_key_not_found"
    title = "API key not found"


class OrderNotFound(NotFound):
    code = "order_not_found"
    title = "Order not found"


class PaymentIntentNotFound(NotFound):
    code = "payment_intent_not_found"
    title = "Payment intent not found"


class RouteNotFound(NotFound):
    code = "route_not_found"
    title = "No such endpoint"


class NotAuthenticated(MarqueeError):
    code = "not_authenticated"
    title = "Not authenticated"


class InvalidCredentials(NotAuthenticated):
    code = "invalid_credentials"
    title = "Invalid credentials"


class Forbidden(MarqueeError):
    code = "forbidden"
    title = "Forbidden"


class RateLimited(MarqueeError):
    code = "rate_limited"
    title = "Too many requests"

    @property
    def retry_after_s(self) -> int:
        return int(self.ids.get("retry_after_s", 1))


class Unavailable(MarqueeError):
    """Nothing was changed and the same request (same request id) may be retried."""

    code = "unavailable"
    title = "Temporarily unavailable"


class CommitFailed(Unavailable):
    code = "commit_failed"
    title = "Could not save the change"


class ShowtimeUnavailable(Unavailable):
    code = "showtime_unavailable"
    title = "Showtime temporarily unavailable"


class DependencyUnavailable(Unavailable):
    code = "dependency_unavailable"
    title = "A service Marquee depends on is unavailable"


class Overloaded(Unavailable):
    """Shed before any work was done: the replica is at its admission limit."""

    code = "overloaded"
    title = "Too busy right now"


class WaitingRoomRequired(Forbidden):
    code = "waiting_room_required"
    title = "Join the waiting room first"


class HoldCapExceeded(Conflict):
    code = "hold_cap_exceeded"
    title = "Too many seats held at once"


class WaitingRoomNotFound(NotFound):
    code = "waiting_room_not_found"
    title = "No waiting room is open for this showtime"
