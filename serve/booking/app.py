"""The booking application at `/api/v1/booking`.

Every hold and release goes to the showtime's actor. Requests arriving at a
replica at about the same moment are gathered with `serve.batch` and sent as
one actor call per showtime, since one awaited actor call costs more than the
whole decision it carries.
"""

import asyncio
import io
import logging
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Protocol

import psycopg
import segno
from fastapi import Depends, FastAPI, Header, Request, Response, status
from fastapi.responses import JSONResponse
from ray import serve
from ray.serve.deployment import Application
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from actors.directory import ShowtimeDirectory
from actors.engine import Outcome
from actors.errors import (
    AlreadyAdmitted,
    BookingAlreadyCancelled,
    BookingNotFound,
    CancellationClosed,
    DependencyUnavailable,
    HoldAlreadyOrdered,
    HoldCapExceeded,
    HoldNotFound,
    MarqueeError,
    OrderNotFound,
    ShowtimeNotFound,
    ShowtimeUnavailable,
    TicketCancelled,
    TicketForged,
    ValidationFailed,
    WaitingRoomNotFound,
    WrongShowtime,
)
from actors.messages import (
    CancelBooking,
    Command,
    ExtendHold,
    HoldResult,
    HoldSeats,
    ReleaseHold,
)
from actors.seat_map import showtime_of_hold
from config.settings import Settings
from persistence import catalog_store, orders_store, waiting_room_store
from persistence import showtime_store as store
from persistence.models import HoldStatus, OrderRecord, OrderStatus
from serve.booking.caps import HoldRequest, check_caps
from serve.booking.schemas import (
    BookingRead,
    CancellationRead,
    CheckInCreate,
    CheckInRead,
    HoldCreate,
    HoldRead,
    OrderCreate,
    OrderRead,
    PaymentRead,
    PlaceRead,
    RefundRead,
    SeatMapRead,
    TicketRead,
    WaitingRoomRead,
    WaitingRoomUpdate,
)
from serve.booking.seat_maps import SeatMapCopies
from serve.booking.waiting_room import WaitingRooms
from serve.http.admission import Priority, classifier, rule
from serve.http.auth import CALLER_SECURITY, Principal, require_roles
from serve.http.idempotency import run_once
from serve.http.platform import (
    SCHEMA_REF,
    Platform,
    bind_deployment,
    client_address,
    create_app,
    read_json_body,
)
from serve.http.problems import problems
from serve.payments.flow import CheckoutFlow
from serve.payments.providers import make_provider

logger = logging.getLogger(__name__)

ROUTE_PREFIX = "/api/v1/booking"
MAX_BATCH_SIZE = 64
BATCH_WAIT_TIMEOUT_S = 0.002
MAX_CONCURRENT_BATCHES = 8
MAX_ONGOING_REQUESTS = 512


class Submit(Protocol):
    def __call__(
        self, showtime_id: str, command: Command, client_address: str | None = None
    ) -> Awaitable[Outcome]: ...


# Under overload, the requests that finish a sale are the last to be shed.
BOOKING_PRIORITIES = classifier(
    [
        # A release frees seats and costs little: never shed before new holds.
        rule("DELETE", "/holds/[^/]+", Priority.CRITICAL),
        rule("POST", "/orders", Priority.CRITICAL),
        rule("POST", "/bookings/[^/]+/cancel", Priority.CRITICAL),
        rule("POST", "/checkin", Priority.CRITICAL),
        rule("GET", "/orders/[^/]+", Priority.CRITICAL),
    ]
)


def hold_read(hold: store.HoldView, now: datetime) -> HoldRead:
    # The actor's timer journals an expiry within a second or so; until then
    # the row still says active, so the clock decides.
    expired = hold.status is HoldStatus.ACTIVE and hold.expires_at <= now
    return HoldRead(
        hold_id=hold.hold_id,
        showtime_id=hold.showtime_id,
        seats=list(hold.seats),
        status=HoldStatus.EXPIRED.value if expired else hold.status.value,
        expires_at=hold.expires_at,
        amount_cents=hold.amount_cents,
        currency=hold.currency,
    )


def _optional_header(name: str, description: str, **schema: Any) -> dict[str, Any]:
    """An OpenAPI header parameter for a route that reads its headers by hand."""
    return {
        "name": name,
        "in": "header",
        "required": False,
        "description": description,
        "schema": {"type": "string", **schema},
    }


IDEMPOTENCY_KEY = _optional_header(
    "Idempotency-Key",
    "Send the same key again to get the first answer again",
    minLength=1,
    maxLength=100,
)
IF_NONE_MATCH = _optional_header(
    "If-None-Match", "The ETag of the copy the client has; 304 if still current"
)
ADMISSION_TOKEN = _optional_header(
    "X-Admission-Token", "From the waiting room, while it is active for the showtime"
)


def hot_route_docs(*headers: dict[str, Any]) -> dict[str, Any]:
    """OpenAPI for a route that reads its caller and headers by hand."""
    return {"security": CALLER_SECURITY, "parameters": list(headers)}


def request_id_for(caller: Principal, idempotency_key: str | None) -> str:
    """The actor-level request id: the client's key, scoped to the caller."""
    if idempotency_key is None:
        return uuid.uuid4().hex
    if not 1 <= len(idempotency_key) <= 100:
        raise ValidationFailed("Idempotency-Key has 1 to 100 characters")
    return f"{caller.subject_id}:{idempotency_key}"


def install_routes(
    app: FastAPI,
    platform: Platform,
    directory: ShowtimeDirectory,
    submit: Submit,
    checkout: CheckoutFlow,
) -> None:
    settings = platform.settings
    Caller = Annotated[Principal, Depends(platform.authenticate)]
    known_showtimes: set[str] = set()
    rooms = WaitingRooms(
        platform.transaction,
        settings.ticket_signing_key.get_secret_value(),
        refresh_s=settings.waiting_room_refresh_s,
        admission_ttl_s=settings.waiting_room_admission_ttl_s,
    )

    async def ensure_showtime(showtime_id: str) -> None:
        """Refuse unknown showtimes here, before any actor is started for one.

        Otherwise every made-up id would cost an actor process. Known ids are
        remembered by this replica, so this reads the database once per id.
        """
        if showtime_id in known_showtimes:
            return
        exists = await platform.transaction(
            lambda session: catalog_store.showtime(session, showtime_id) is not None
        )
        if not exists:
            raise ShowtimeNotFound("No such showtime", showtime_id=showtime_id)
        known_showtimes.add(showtime_id)

    seat_maps = SeatMapCopies(directory.seat_map, max_age_s=settings.seat_map_max_age_s)

    @app.get(
        "/showtimes/{showtime_id}/seats",
        response_model=SeatMapRead,
        responses={**problems(404, 503), 304: {"description": "Not modified"}},
        summary="The seat map as of a recent commit (its version says which)",
        openapi_extra={"parameters": [IF_NONE_MATCH]},
    )
    async def seats(showtime_id: str, request: Request) -> Response:
        # If-None-Match is read by hand, like the holds' headers below: every
        # customer in a rush reloads this.
        if_none_match = request.headers.get("if-none-match")
        await ensure_showtime(showtime_id)
        copy = await seat_maps.get(showtime_id)
        headers = {
            "ETag": copy.etag,
            "Cache-Control": f"max-age={settings.seat_map_max_age_s:g}",
        }
        if if_none_match == copy.etag:
            return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
        return Response(copy.body, media_type="application/json", headers=headers)

    # NOTE: holds and releases are most of a rush's requests, and read their
    # caller, headers and body by hand: FastAPI resolving a caller dependency
    # and two header parameters was over half of a hold's CPU in the route
    # (profiled in-process: 184 us per hold with them, 101 us without).
    # `openapi_extra` keeps their documentation the same as the other routes'.
    @app.post(
        "/showtimes/{showtime_id}/holds",
        status_code=status.HTTP_201_CREATED,
        responses=problems(401, 404, 409, 503),
        summary="Hold named seats, or the best N of a category",
        openapi_extra={
            **hot_route_docs(IDEMPOTENCY_KEY, ADMISSION_TOKEN),
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {"$ref": SCHEMA_REF.format(model="HoldCreate")}
                    }
                },
            },
        },
    )
    async def create_hold(showtime_id: str, request: Request) -> HoldRead:
        caller = await platform.authenticator.caller(request)
        body = await read_json_body(request, HoldCreate)
        await platform.limit(
            "holds", caller.subject_id, settings.rate_limit_holds_per_minute
        )
        await ensure_showtime(showtime_id)
        room = await rooms.room(showtime_id)
        if room is not None and room.active and not caller.is_staff:
            rooms.check_admission(
                request.headers.get("x-admission-token"),
                showtime_id,
                caller.subject_id,
            )
        command = HoldSeats(
            request_id=request_id_for(caller, request.headers.get("idempotency-key")),
            customer_id=caller.subject_id,
            seats=tuple(body.seats or ()),
            count=body.count,
            category=body.category,
        )
        outcome = await submit(showtime_id, command, client_address(request))
        if isinstance(outcome, MarqueeError):
            raise outcome
        if not isinstance(outcome, HoldResult):  # pragma: no cover - actor bug
            raise TypeError(f"hold answered with {outcome!r}")
        return HoldRead(
            hold_id=outcome.hold_id,
            showtime_id=outcome.showtime_id,
            seats=list(outcome.seats),
            status=HoldStatus.ACTIVE.value,
            expires_at=outcome.expires_at,
            amount_cents=outcome.amount_cents,
            currency=outcome.currency,
        )

    async def own_hold(hold_id: str, caller: Principal) -> store.HoldView:
        hold = await platform.transaction(
            lambda session: store.hold_view(session, hold_id)
        )
        # Another customer's hold is not found, never forbidden: its existence
        # is none of the caller's business.
        if hold is None or (
            hold.customer_id != caller.subject_id and not caller.is_staff
        ):
            raise HoldNotFound("No such hold", hold_id=hold_id)
        return hold

    @app.get("/holds", responses=problems(401), summary="The caller's active holds")
    async def my_holds(caller: Caller) -> list[HoldRead]:
        now = datetime.now(UTC)
        holds = await platform.transaction(
            lambda session: store.active_holds_of(session, caller.subject_id, now)
        )
        return [hold_read(hold, now) for hold in holds]

    @app.get("/holds/{hold_id}", responses=problems(401, 404), summary="One hold")
    async def get_hold(hold_id: str, caller: Caller) -> HoldRead:
        return hold_read(await own_hold(hold_id, caller), datetime.now(UTC))

    @app.delete(
        "/holds/{hold_id}",
        status_code=status.HTTP_204_NO_CONTENT,
        responses=problems(401, 404, 409, 503),
        summary="Release a hold; its seats go back on sale",
        openapi_extra=hot_route_docs(IDEMPOTENCY_KEY),
    )
    async def release_hold(hold_id: str, request: Request) -> Response:
        caller = await platform.authenticator.caller(request)
        idempotency_key = request.headers.get("idempotency-key")
        showtime_id = showtime_of_hold(hold_id)
        if showtime_id is not None and not caller.is_staff:
            # The id names its showtime, and the actor refuses anyone else's
            # hold as not found: no database read on the hot path.
            customer_id = caller.subject_id
            try:
                await ensure_showtime(showtime_id)
            except ShowtimeNotFound as exc:
                raise HoldNotFound("No such hold", hold_id=hold_id) from exc
        else:
            hold = await own_hold(hold_id, caller)
            showtime_id, customer_id = hold.showtime_id, hold.customer_id
        command = ReleaseHold(
            request_id=request_id_for(caller, idempotency_key),
            customer_id=customer_id,
            hold_id=hold_id,
        )
        outcome = await submit(showtime_id, command)
        if isinstance(outcome, MarqueeError):
            raise outcome
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    install_waiting_room_routes(app, platform, rooms, ensure_showtime)
    install_order_routes(app, platform, submit, checkout)


def room_read(room: waiting_room_store.Room) -> WaitingRoomRead:
    return WaitingRoomRead(
        showtime_id=room.showtime_id,
        active=room.active,
        opens_at=room.opens_at,
        admit_per_minute=room.admit_per_minute,
        admitted_so_far=room.admitted_by(datetime.now(UTC)),
    )


def install_waiting_room_routes(
    app: FastAPI,
    platform: Platform,
    rooms: WaitingRooms,
    ensure_showtime: Callable[[str], Awaitable[None]],
) -> None:
    """Staff open a room; customers join it and poll their place for free."""
    Caller = Annotated[Principal, Depends(platform.authenticate)]
    Staff = Annotated[Principal, Depends(platform.staff_only)]

    async def open_room(showtime_id: str) -> waiting_room_store.Room:
        room = await rooms.room(showtime_id)
        if room is None or not room.active:
            raise WaitingRoomNotFound(
                "No waiting room is open for this showtime", showtime_id=showtime_id
            )
        return room

    async def place_read(
        room: waiting_room_store.Room, code: str, caller: Principal
    ) -> PlaceRead:
        place = rooms.place(code, room.showtime_id, caller.subject_id)
        standing = await rooms.standing(room, place)
        token = expires_at = None
        if standing.admitted:
            token, expires_at = rooms.admission_token(
                room.showtime_id, caller.subject_id
            )
        return PlaceRead(
            place=code,
            showtime_id=room.showtime_id,
            opens_at=standing.opens_at,
            position=standing.position,
            admitted_so_far=standing.admitted_so_far,
            estimated_wait_s=standing.estimated_wait_s,
            admitted=standing.admitted,
            admission_token=token,
            admission_expires_at=expires_at,
        )

    @app.put(
        "/showtimes/{showtime_id}/waiting-room",
        responses=problems(401, 403, 404, 422),
        summary="Switch a showtime's waiting room on or off (staff)",
    )
    async def set_room(
        showtime_id: str, body: WaitingRoomUpdate, staff: Staff
    ) -> WaitingRoomRead:
        await ensure_showtime(showtime_id)
        room = await rooms.set_room(
            showtime_id,
            active=body.active,
            opens_at=body.opens_at,
            admit_per_minute=body.admit_per_minute,
        )
        return room_read(room)

    @app.get(
        "/showtimes/{showtime_id}/waiting-room",
        responses=problems(401, 404),
        summary="The waiting room's settings and how many are in",
    )
    async def get_room(showtime_id: str, caller: Caller) -> WaitingRoomRead:
        return room_read(await open_room(showtime_id))

    @app.post(
        "/showtimes/{showtime_id}/waiting-room/places",
        status_code=status.HTTP_201_CREATED,
        responses=problems(401, 404),
        summary="Take a place in the waiting room (again: the same place)",
    )
    async def join(showtime_id: str, caller: Caller) -> PlaceRead:
        room = await open_room(showtime_id)
        code = await rooms.join(room, caller.subject_id)
        return await place_read(room, code, caller)

    @app.get(
        "/showtimes/{showtime_id}/waiting-room/places/{place}",
        responses=problems(401, 404, 422),
        summary="Where a place stands: position, wait, and the token once in",
    )
    async def poll(showtime_id: str, place: str, caller: Caller) -> PlaceRead:
        return await place_read(await open_room(showtime_id), place, caller)


def order_read(order: OrderRecord) -> OrderRead:
    return OrderRead(
        order_id=order.id,
        hold_id=order.hold_id,
        showtime_id=order.showtime_id,
        status=order.status.value,
        amount_cents=order.amount_cents,
        currency=order.currency,
        booking_id=order.booking_id,
        failure_code=order.failure_code,
        payment=PaymentRead(
            provider=order.provider,
            payment_intent_id=order.payment_intent_id,
            client_secret=order.client_secret,
        ),
    )


def install_order_routes(
    app: FastAPI, platform: Platform, submit: Submit, checkout: CheckoutFlow
) -> None:
    """Orders, the bookings they become, cancellation and check-in."""
    provider = checkout.provider
    Caller = Annotated[Principal, Depends(platform.authenticate)]
    Doorkeeper = Annotated[
        Principal,
        Depends(require_roles(platform.authenticate, "staff", "admin", "kiosk")),
    ]

    async def create_order(caller: Principal, body: OrderCreate) -> OrderRead:
        now = datetime.now(UTC)
        hold = await platform.transaction(
            lambda session: store.hold_view(session, body.hold_id)
        )
        if hold is None or hold.customer_id != caller.subject_id:
            raise HoldNotFound("No such hold", hold_id=body.hold_id)
        existing = await platform.transaction(
            lambda session: orders_store.live_order_for_hold(session, body.hold_id)
        )
        if existing is not None:
            raise HoldAlreadyOrdered(
                "The hold already has an order",
                hold_id=body.hold_id,
                order_id=existing.id,
            )
        order_id = uuid.uuid4().hex

        # Pin the hold first, so that it cannot expire while the customer pays;
        # the actor's answer is also the authoritative price.
        extended = await submit(
            hold.showtime_id,
            ExtendHold(f"extend:{order_id}", caller.subject_id, body.hold_id),
        )
        if isinstance(extended, MarqueeError):
            raise extended
        if not isinstance(extended, HoldResult):  # pragma: no cover - actor bug
            raise TypeError(f"extend answered with {extended!r}")
        order = OrderRecord(
            id=order_id,
            customer_id=caller.subject_id,
            showtime_id=hold.showtime_id,
            hold_id=hold.hold_id,
            amount_cents=extended.amount_cents,
            currency=extended.currency,
            status=OrderStatus.AWAITING_PAYMENT,
            provider=provider.name,
            payment_intent_id=None,
            client_secret=None,
            booking_id=None,
            failure_code=None,
            created_at=now,
            updated_at=now,
        )
        try:
            await platform.transaction(
                lambda session: orders_store.add_order(session, order)
            )
        except orders_store.AlreadyExists as exc:
            raise HoldAlreadyOrdered(
                "The hold already has an order", hold_id=body.hold_id
            ) from exc

        # NOTE: a crash between the order row and the intent leaves an order
        # with no intent; the recovery sweep fails it (nothing was charged), and
        # the hold stays pinned until its extended expiry.
        try:
            intent = await provider.create_intent(
                order_id=order_id, amount=order.amount_cents, currency=order.currency
            )
        except MarqueeError as error:
            # Nothing was charged: free the hold for another order attempt.
            reason = error.code
            await platform.transaction(
                lambda session: orders_store.fail_order(
                    session, order_id, reason, datetime.now(UTC)
                )
            )
            raise

        def attach(session: Session) -> OrderRecord | None:
            current = orders_store.order(session, order_id)
            if current is not None:
                current.payment_intent_id = intent.intent_id
                current.client_secret = intent.client_secret
            return current

        attached = await platform.transaction(attach)
        if attached is None:  # pragma: no cover - just added
            raise OrderNotFound("No such order", order_id=order_id)
        logger.info("order %s awaits payment", order_id)
        return order_read(attached)

    @app.post(
        "/orders",
        status_code=status.HTTP_201_CREATED,
        response_model=OrderRead,
        responses=problems(401, 404, 409, 503),
        summary="Turn a hold into an order awaiting payment (needs Idempotency-Key)",
    )
    async def post_order(
        body: OrderCreate,
        caller: Caller,
        idempotency_key: Annotated[str | None, Header()] = None,
    ) -> JSONResponse:
        async def produce() -> tuple[int, dict[str, Any]]:
            created = await create_order(caller, body)
            return status.HTTP_201_CREATED, created.model_dump(mode="json")

        code, response = await run_once(
            platform,
            owner_id=caller.subject_id,
            key=idempotency_key,
            body=body.model_dump(mode="json"),
            produce=produce,
        )
        return JSONResponse(response, status_code=code)

    @app.get("/orders/{order_id}", responses=problems(401, 404), summary="One order")
    async def get_order(order_id: str, caller: Caller) -> OrderRead:
        order = await platform.transaction(
            lambda session: orders_store.order(session, order_id)
        )
        if order is None or (
            order.customer_id != caller.subject_id and not caller.is_staff
        ):
            raise OrderNotFound("No such order", order_id=order_id)
        return order_read(order)

    async def own_booking(
        booking_id: str, caller: Principal
    ) -> orders_store.BookingView:
        """The caller's booking (staff see all); anyone else's is not found."""
        booking = await platform.transaction(
            lambda session: orders_store.booking_view(session, booking_id)
        )
        if booking is None or (
            booking.customer_id != caller.subject_id and not caller.is_staff
        ):
            raise BookingNotFound("No such booking", booking_id=booking_id)
        return booking

    def booking_read(booking: orders_store.BookingView) -> BookingRead:
        return BookingRead(
            booking_id=booking.booking_id,
            showtime_id=booking.showtime_id,
            seats=list(booking.seats),
            status=booking.status,
            amount_cents=booking.amount_cents,
            tickets=[
                TicketRead(seat=seat, code=platform.tickets.code_for(ticket_id))
                for ticket_id, seat in booking.tickets
            ],
        )

    @app.get("/bookings", responses=problems(401), summary="The caller's bookings")
    async def my_bookings(caller: Caller) -> list[BookingRead]:
        bookings = await platform.transaction(
            lambda session: orders_store.bookings_of(session, caller.subject_id)
        )
        return [booking_read(booking) for booking in bookings]

    @app.get(
        "/bookings/{booking_id}",
        responses=problems(401, 404),
        summary="One booking with its tickets",
    )
    async def get_booking(booking_id: str, caller: Caller) -> BookingRead:
        booking = await own_booking(booking_id, caller)
        return booking_read(booking)

    @app.get(
        "/bookings/{booking_id}/tickets/{seat}/qr",
        responses={
            **problems(401, 404),
            200: {"content": {"image/png": {}}, "description": "The QR code"},
        },
        response_class=Response,
        summary="A ticket's code as a QR image, for the door",
    )
    async def ticket_qr(booking_id: str, seat: str, caller: Caller) -> Response:
        booking = await own_booking(booking_id, caller)
        ticket_id = next((t for t, s in booking.tickets if s == seat), None)
        if ticket_id is None:
            raise BookingNotFound(
                "No ticket for that seat", booking_id=booking_id, seat=seat
            )
        image = io.BytesIO()
        segno.make(platform.tickets.code_for(ticket_id), error="m").save(
            image, kind="png", scale=6, border=4
        )
        return Response(image.getvalue(), media_type="image/png")

    @app.post(
        "/bookings/{booking_id}/cancel",
        responses=problems(401, 404, 409, 503),
        summary="Cancel a booking: seats go back on sale and the payment is refunded",
    )
    async def cancel_booking(booking_id: str, caller: Caller) -> CancellationRead:
        booking = await own_booking(booking_id, caller)
        if not caller.is_staff:
            showtime = await platform.transaction(
                lambda session: catalog_store.showtime(session, booking.showtime_id)
            )
            cutoff = timedelta(seconds=platform.settings.cancellation_cutoff_s)
            if (
                showtime is not None
                and datetime.now(UTC) >= showtime.starts_at - cutoff
            ):
                raise CancellationClosed(
                    "Bookings can be cancelled until "
                    f"{platform.settings.cancellation_cutoff_s / 3600:g} hours "
                    "before the showtime",
                    booking_id=booking_id,
                )
        outcome = await submit(
            booking.showtime_id,
            CancelBooking(
                request_id=f"cancel-booking:{booking_id}",
                booking_id=booking_id,
                customer_id=None,
            ),
        )
        # Already cancelled: the refund below is still owed, and idempotent.
        if isinstance(outcome, MarqueeError) and not isinstance(
            outcome, BookingAlreadyCancelled
        ):
            raise outcome
        refund = await checkout.refund_cancelled_booking(booking_id)
        return CancellationRead(
            booking_id=booking_id,
            status="cancelled",
            refund=RefundRead(amount_cents=refund.amount_cents, status=refund.status),
        )

    @app.post(
        "/checkin",
        responses=problems(401, 403, 409),
        summary="Admit a ticket once (staff or a kiosk API key)",
    )
    async def check_in(body: CheckInCreate, doorkeeper: Doorkeeper) -> CheckInRead:
        ticket_id = platform.tickets.ticket_id_of(body.code)
        if ticket_id is None:
            raise TicketForged("This is not a genuine ticket code")
        now = datetime.now(UTC)
        admission = await platform.transaction(
            lambda session: orders_store.admit(
                session, ticket_id, now, body.showtime_id
            )
        )
        if admission is None:
            raise TicketForged("No ticket has this code", ticket_id=ticket_id)
        if body.showtime_id is not None and admission.showtime_id != body.showtime_id:
            raise WrongShowtime(
                "This ticket is for another showtime",
                ticket_showtime_id=admission.showtime_id,
                showtime_id=body.showtime_id,
            )
        if admission.voided:
            raise TicketCancelled("This ticket's booking was cancelled")
        if not admission.first_time or admission.admitted_at is None:
            raise AlreadyAdmitted(
                "This ticket was admitted already",
                admitted_at=admission.admitted_at.isoformat()
                if admission.admitted_at
                else None,
                seat=admission.seat,
            )
        return CheckInRead(
            seat=admission.seat,
            showtime_id=admission.showtime_id,
            admitted_at=admission.admitted_at,
        )


@serve.deployment(name="booking")
@serve.ingress()
class BookingDeployment:
    """Concurrency: each replica gathers concurrent commands into batches; the
    order within a showtime's batch is the order requests reached the replica."""

    def __init__(self, settings: Settings) -> None:
        self._platform = Platform(settings)
        self._directory = self._platform.showtime_directory()
        self._checkout = CheckoutFlow(
            self._platform, self._directory, make_provider(self._platform)
        )

    @serve.batch(  # type: ignore[untyped-decorator]
        max_batch_size=MAX_BATCH_SIZE,
        batch_wait_timeout_s=BATCH_WAIT_TIMEOUT_S,
        max_concurrent_batches=MAX_CONCURRENT_BATCHES,
    )
    async def _submit_batch(
        self, items: Sequence[tuple[str, Command, str | None]]
    ) -> list[Outcome]:
        outcomes: list[Outcome | None] = [None] * len(items)
        for index, refusal in await self._over_caps(items):
            outcomes[index] = refusal
        by_showtime: dict[str, list[int]] = defaultdict(list)
        for index, (showtime_id, _, _) in enumerate(items):
            if outcomes[index] is None:
                by_showtime[showtime_id].append(index)

        async def one_showtime(showtime_id: str, indexes: list[int]) -> None:
            commands = [items[index][1] for index in indexes]
            # The directory answers every command, errors included, so one
            # showtime's trouble never fails another's requests in the batch.
            answers = await self._directory.submit(showtime_id, commands)
            for index, answer in zip(indexes, answers, strict=True):
                outcomes[index] = answer

        await asyncio.gather(
            *(one_showtime(sid, indexes) for sid, indexes in by_showtime.items())
        )
        if self._platform.settings.max_held_seats_per_address:
            await self._record_addresses(items, outcomes)
        missing = ShowtimeUnavailable("No answer for this request")
        return [missing if outcome is None else outcome for outcome in outcomes]

    async def _over_caps(
        self, items: Sequence[tuple[str, Command, str | None]]
    ) -> list[tuple[int, HoldCapExceeded]]:
        """Hold requests in the batch that would pass a seat cap."""
        settings = self._platform.settings
        per_customer = settings.max_held_seats_per_customer
        per_address = settings.max_held_seats_per_address
        holds = [
            (index, HoldRequest(
                customer_id=command.customer_id,
                showtime_id=showtime_id,
                client_address=address if per_address else None,
                seats=len(command.seats) or (command.count or 0),
            ))
            for index, (showtime_id, command, address) in enumerate(items)
            if isinstance(command, HoldSeats)
        ]  # fmt: skip
        if not holds or not (per_customer or per_address):
            return []
        now = datetime.now(UTC)
        customers = sorted({request.customer_id for _, request in holds})
        addresses = sorted(
            {r.client_address for _, r in holds if r.client_address is not None}
        )
        reads = self._platform.reads
        try:
            if reads is not None:
                held = await reads.run(
                    lambda connection: store.held_seats_async(
                        connection,
                        customer_ids=customers,
                        client_addresses=addresses,
                        now=now,
                    )
                )
            else:
                held = await self._platform.transaction(
                    lambda session: store.held_seats(
                        session,
                        customer_ids=customers,
                        client_addresses=addresses,
                        now=now,
                    )
                )
        except (psycopg.Error, SQLAlchemyError) as exc:
            # Nothing was held: every hold in the batch may be sent again.
            raise DependencyUnavailable(
                "The seat caps could not be checked; retry the same request"
            ) from exc
        verdicts = check_caps(
            [request for _, request in holds],
            held,
            per_customer=per_customer,
            per_address=per_address,
        )
        return [
            (index, verdict)
            for (index, _), verdict in zip(holds, verdicts, strict=True)
            if verdict is not None
        ]

    async def _record_addresses(
        self,
        items: Sequence[tuple[str, Command, str | None]],
        outcomes: Sequence[Outcome | None],
    ) -> None:
        placed = [
            (outcome.hold_id, address)
            for (_, _, address), outcome in zip(items, outcomes, strict=True)
            if isinstance(outcome, HoldResult) and address is not None
        ]
        now = datetime.now(UTC)
        try:
            await self._platform.transaction(
                lambda session: store.record_hold_addresses(session, placed, now)
            )
        except SQLAlchemyError:
            # The holds stand; only the per-address count misses them.
            logger.exception("could not record the addresses of %d holds", len(placed))

    async def ping(self) -> bool:
        """For readiness checks: the replica is up and answering calls."""
        return True

    async def submit(
        self, showtime_id: str, command: Command, client_address: str | None = None
    ) -> Outcome:
        outcome: Outcome = await self._submit_batch(
            (showtime_id, command, client_address)
        )
        return outcome

    def __serve_build_asgi_app__(self) -> FastAPI:
        app = create_app(
            self._platform,
            route_prefix=ROUTE_PREFIX,
            title="Marquee booking",
            description="Seat maps and holds.",
            classify=BOOKING_PRIORITIES,
            documented_models=[HoldCreate],
        )
        install_routes(
            app, self._platform, self._directory, self.submit, self._checkout
        )
        return app


def booking_application(settings: Settings) -> Application:
    return bind_deployment(
        BookingDeployment,
        settings,
        num_replicas=settings.booking_replicas,
        max_ongoing_requests=MAX_ONGOING_REQUESTS,
    )
