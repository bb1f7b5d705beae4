from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from uuid import UUID

import structlog
from pydantic_core import to_jsonable_python

from services.booking.bookings import access as bola
from services.booking.bookings.qr import checkin_qr_svg
from services.booking.bookings.repository import (
    BookingRepository,
    FastPathLimits,
    NewBooking,
    booking_view,
    bookings,
    confirm_at_once,
    new_checkin_code,
)
from services.booking.bookings.schemas import BookingCreate, BookingOut, BookingStatus
from services.booking.bookings.waitlist import cancel_and_promote
from services.booking.dependencies import Collaborators
from services.booking.idempotency import service as idempotency
from services.booking.idempotency.repository import IdempotencyKeyRepository, Remembered
from services.booking.inventory import service as inventory_service
from services.booking.inventory.repository import InventoryRepository
from services.booking.limits import service as limits
from services.booking.limits.repository import RateWindowRepository
from services.booking.models import AnyRow
from services.booking.publishing import OutboxRows, availability_changed, bookings_changed
from services.booking.settings import BookingSettings
from shared.auth import Principal
from shared.authz import OrgRole, require_org_role
from shared.db import utcnow
from shared.driver import DriverPool
from shared.errors import AppError, Conflict, Forbidden, NotFound, TooManyRequests
from shared.events.outbox import Outbox
from shared.events.schemas import BookingCause
from shared.ids import new_id
from shared.pagination import Page, PageParams
from shared.repository import paginate

logger = structlog.get_logger(__name__)

BOOKING_NOT_FOUND = "Booking not found"
NO_LIMIT = 2**31 - 1
NO_CHECKIN_CODE = {
    "waitlisted": "This booking is waitlisted: its check-in code comes once it is confirmed",
    "cancelled": "This booking is cancelled: it has no check-in code",
}
# Who cancelled, as `booking.cancelled` tells the holder (the stored `cancel_reason` keeps `by_<access>`):
# an operator acts as an organization's administrator would.
CANCELLED_BY: dict[bola.Access, BookingCause] = {
    bola.Access.holder: "by_owner",
    bola.Access.organization_admin: "by_org_admin",
    bola.Access.operator: "by_org_admin",
}


def booking_out(row: Any, *, show_code: bool, waitlist_position: int | None = None) -> BookingOut:
    position = getattr(row, "waitlist_position", waitlist_position)
    return BookingOut(
        id=row.id,
        session_id=row.session_id,
        person_id=row.person_id,
        organization_id=row.organization_id,
        seats=row.seats,
        status=BookingStatus(row.status),
        waitlist_position=position if row.status == "waitlisted" else None,
        checkin_code=row.checkin_code if show_code else None,
        checked_in_at=getattr(row, "checked_in_at", None),
        cancelled_at=getattr(row, "cancelled_at", None),
        created_at=row.created_at,
    )


class SessionUnknown(Exception):
    """Booking has not heard of the session yet: ask the catalog, then try again."""


class Interleaved(Exception):
    """A request of the same person committed while the booking statement waited for the person's row:
    what it read may be stale, so its transaction is rolled back and the booking done carefully."""


@dataclass(frozen=True, slots=True)
class Attempt:
    counted: bool = False  # the request's rate count has committed already
    careful: bool = False  # lock the person's row first, then book with a snapshot taken after it


async def create_idempotently(
    c: Collaborators, body: BookingCreate, key: str, fingerprint: str
) -> idempotency.StoredResponse:
    """Book in one transaction that also counts the request against the rate limit, holds the key's
    lock and stores the response; a request that failed is still counted."""
    person_id = c.principal.person_id
    attempt = Attempt()
    try:
        if body.organization_id is not None:
            await require_org_role(c.memberships, c.principal, body.organization_id, OrgRole.coordinator)
        for _ in range(3):
            try:
                return await _book(c, body, key, fingerprint, attempt)
            except SessionUnknown:
                # Keep the count before asking the catalog: a burst for unknown sessions is limited too.
                await c.session.commit()
                attempt = replace(attempt, counted=True)
                await inventory_service.learn(c.session, c.outbox, c.catalog, body.session_id)
                await c.session.commit()
            except Interleaved:
                await c.session.rollback()
                attempt = replace(attempt, careful=True)
        raise AssertionError("a known session, booked carefully, needs no further attempt")  # pragma: no cover
    except (idempotency.KeyInFlight, TooManyRequests):
        raise  # not counted again: the window is already over, or the first request counts
    except AppError:
        await c.session.rollback()  # end the booking's transaction before taking a second connection
        if not attempt.counted:
            await limits.count_failed_request(c.database, person_id, utcnow())
        raise


async def book_at_once(
    state: Any, principal: Principal, body: BookingCreate, key: str, fingerprint: str
) -> idempotency.StoredResponse | None:
    """Most bookings: seats free, nobody waiting, the key new. One statement on the driver pool (see
    `confirm_at_once`, which also writes the `booking.confirmed` event) is the whole unit of work,
    committed only when it booked cleanly; otherwise nothing happened (None) and `create_idempotently`
    decides, carefully, in a unit of work of its own.

    `state` is the app's: its settings, driver pool, outbox and metrics."""
    if body.organization_id is not None:
        return None  # the coordinator's role is the careful path's to check (orgs is asked)
    outbox: Outbox = state.outbox
    now = utcnow()
    settings: BookingSettings = state.settings
    person_id = principal.person_id
    booking = NewBooking(new_id(), body.session_id, person_id, None, body.seats, new_checkin_code())
    remembered = Remembered(person_id, key, fingerprint, 201, confirmed_body(booking, now))
    fast_path = FastPathLimits(
        now=now,
        max_active=settings.max_active_per_person,
        rate_limit=settings.rate_per_minute,
        rate_window=limits.RATE_WINDOW,
        key_lock=idempotency.lock_id(person_id, key),
        ttl=settings.idempotency_ttl,
    )
    driver: DriverPool = state.driver_pool
    async with driver.connection() as connection:
        figures = await confirm_at_once(connection, booking, remembered, fast_path, OutboxRows.of(outbox))
    if figures is None:
        return None
    state.bookings_entered.labels("confirmed").inc()
    return idempotency.StoredResponse(201, remembered.body)


async def _book(
    c: Collaborators, body: BookingCreate, key: str, fingerprint: str, attempt: Attempt
) -> idempotency.StoredResponse:
    now = utcnow()
    person_id = c.principal.person_id
    settings = c.settings
    key_lock = idempotency.lock_id(person_id, key)
    counting = not attempt.counted
    if attempt.careful:  # the person's row first: the booking statement's snapshot comes after it
        counted = await RateWindowRepository(c.session).count_request(
            person_id, now, limits.RATE_WINDOW, lock_id=key_lock, count=counting
        )
        if counted is None:
            raise idempotency.KeyInFlight()
        if counting:
            limits.ensure_within_rate(*counted, settings.rate_per_minute, now)
        counting = False
    booking = NewBooking(new_id(), body.session_id, person_id, body.organization_id, body.seats, new_checkin_code())
    confirmed = _new_booking_out(booking, "confirmed", now)
    remembered = Remembered(person_id, key, fingerprint, 201, confirmed.model_dump(mode="json"))
    fast_path = FastPathLimits(
        now=now,
        max_active=settings.max_active_per_person,
        # A request counted before was admitted then; only a count made now is held against the limit.
        rate_limit=settings.rate_per_minute if counting else NO_LIMIT,
        rate_window=limits.RATE_WINDOW,
        key_lock=key_lock,
        ttl=settings.idempotency_ttl,
        counting=counting,
    )
    repository = BookingRepository(c.session)
    outcome = await repository.confirm_if_free(booking, remembered, fast_path, OutboxRows.of(c.outbox))
    if outcome.requests is None:
        raise idempotency.KeyInFlight()
    if outcome.interleaved:
        raise Interleaved
    if outcome.figures is not None and not outcome.remembered:
        raise idempotency.KeyInFlight()
    assert outcome.window_started_at is not None
    if counting:
        limits.ensure_within_rate(outcome.requests, outcome.window_started_at, settings.rate_per_minute, now)
    if outcome.figures is not None:
        c.entered.labels("confirmed").inc()  # its `booking.confirmed` is written by the statement
        return idempotency.StoredResponse(201, remembered.body)
    # Not booked at once: find out why (this transaction holds the person's row, so reads are current).
    known = await repository.before_booking(person_id, key, body.session_id, now, settings.max_active_per_person)
    if known.request_hash is not None:
        return idempotency.replay(fingerprint, known.request_hash, known.response_status, known.response_body)
    if known.session_id is None:
        raise SessionUnknown
    inventory_service.ensure_bookable(known, now)
    limits.ensure_below_active_limit(known.active_bookings, settings.max_active_per_person)
    waitlisted = _new_booking_out(booking, "waitlisted", now)
    remembered = replace(remembered, body=waitlisted.model_dump(mode="json"))
    joined = await repository.waitlist_at_once(booking, remembered, fast_path, OutboxRows.of(c.outbox))
    if joined is None:  # the session changed meanwhile: decide under its row lock
        return await _confirm_or_waitlist_locked(c, booking, remembered, now)
    figures, remembered_now = joined
    if not remembered_now:
        raise idempotency.KeyInFlight()
    waitlisted.waitlist_position = figures.waitlist_length  # the last in line
    await bookings_changed(c.session, c.outbox, [waitlisted], c.entered, "booked")
    return idempotency.StoredResponse(201, waitlisted.model_dump(mode="json"))


def confirmed_body(booking: NewBooking, now: datetime) -> dict[str, Any]:
    """What `_new_booking_out(booking, "confirmed", now).model_dump(mode="json")` gives (unset optional fields
    left out), built directly for the hot path: a model and its dump cost ~2% of a booking. A test pins the
    two to each other."""
    return {
        "id": str(booking.id),
        "session_id": str(booking.session_id),
        "person_id": str(booking.person_id),
        "organization_id": None if booking.organization_id is None else str(booking.organization_id),
        "seats": booking.seats,
        "status": "confirmed",
        "checkin_code": booking.checkin_code,
        "created_at": to_jsonable_python(now),
    }


def _new_booking_out(booking: NewBooking, status: str, now: datetime) -> BookingOut:
    return BookingOut(
        id=booking.id,
        session_id=booking.session_id,
        person_id=booking.person_id,
        organization_id=booking.organization_id,
        seats=booking.seats,
        status=BookingStatus(status),
        checkin_code=booking.checkin_code if status == "confirmed" else None,
        created_at=now,
    )


async def _confirm_or_waitlist_locked(
    c: Collaborators, booking: NewBooking, remembered: Remembered, now: datetime
) -> idempotency.StoredResponse:
    """The slow path, under the session's row lock: confirm if the seats are free after all, otherwise
    join the back of the waitlist (strict FIFO: also when seats are free but someone is waiting)."""
    inventory = InventoryRepository(c.session)
    locked = await inventory.get(booking.session_id, for_update=True)
    assert locked is not None  # inventory rows are never deleted
    inventory_service.ensure_bookable(locked, now)
    if locked.waitlist_length == 0 and locked.confirmed_seats + booking.seats <= locked.capacity:
        figures = await inventory.change_figures(booking.session_id, confirmed_delta=booking.seats, now=now)
        status, waitlist_seq, position = "confirmed", None, None
    else:
        figures, waitlist_seq = await inventory.join_waitlist(booking.session_id, now)
        status, position = "waitlisted", figures.waitlist_length  # the last in line
    await BookingRepository(c.session).insert(
        booking, status=status, waitlist_seq=waitlist_seq, session_ends_at=locked.ends_at, now=now
    )
    out = _new_booking_out(booking, status, now)
    out.waitlist_position = position
    remembered = replace(remembered, body=out.model_dump(mode="json"))
    await IdempotencyKeyRepository(c.session).remember(remembered, now, c.settings.idempotency_ttl)
    await availability_changed(c.session, c.outbox, figures)
    await bookings_changed(c.session, c.outbox, [out], c.entered, "booked")
    return idempotency.StoredResponse(201, remembered.body)


async def _readable(c: Collaborators, booking_id: UUID) -> tuple[AnyRow, bola.Access]:
    row = await BookingRepository(c.session).view(booking_id)
    if row is None:
        raise NotFound(BOOKING_NOT_FOUND)
    access = await bola.access_to(row, c.principal, c.memberships)
    if not access.can_read:
        raise NotFound(BOOKING_NOT_FOUND)  # never tell whether someone else's booking exists
    return row, access


async def get(c: Collaborators, booking_id: UUID) -> BookingOut:
    row, access = await _readable(c, booking_id)
    return booking_out(row, show_code=access.sees_code)


async def checkin_qr(c: Collaborators, booking_id: UUID) -> bytes:
    """The check-in code of your confirmed booking as a QR code (SVG). Only the holder: anyone else gets
    404, whatever else they may see of the booking (the image is the code itself)."""
    row = await BookingRepository(c.session).holder_and_code(booking_id)
    if row is None or row.person_id != c.principal.person_id:
        raise NotFound(BOOKING_NOT_FOUND)
    if row.checkin_code is None:
        raise Conflict(NO_CHECKIN_CODE[row.status], extra={"reason": f"booking_{row.status}"})
    return checkin_qr_svg(row.checkin_code)


async def cancel(c: Collaborators, booking_id: UUID) -> BookingOut:
    """Free the seats (or the waitlist place) and promote the waitlist, under the session's row lock.
    Cancelling a cancelled booking changes nothing and answers it again (safe to retry)."""
    row, access = await _readable(c, booking_id)
    if not access.can_cancel:
        raise Forbidden("Host staff can see this booking but only its holder or its organization's admins cancel it")
    if row.status == "cancelled":
        return booking_out(row, show_code=access.sees_code)
    now = utcnow()
    inventory = InventoryRepository(c.session)
    session_row = await inventory.get(row.session_id, for_update=True)
    assert session_row is not None
    repository = BookingRepository(c.session)
    current = await repository.lock(booking_id)
    assert current is not None
    if current.status != "cancelled":
        if await repository.checked_in(booking_id):
            raise Conflict("This booking is checked in; it can no longer be cancelled")
        if session_row.starts_at <= now and session_row.status == "scheduled":
            raise Conflict("The session has already started; the booking can no longer be cancelled")
        cancelled, figures, promoted = await cancel_and_promote(c.session, current, now, reason=f"by_{access.value}")
        await availability_changed(c.session, c.outbox, figures)
        await bookings_changed(c.session, c.outbox, [cancelled], c.entered, CANCELLED_BY[access])
        await bookings_changed(c.session, c.outbox, promoted, c.entered, "promoted")
    fresh = await repository.view(booking_id)
    return booking_out(fresh, show_code=access.sees_code)


async def list_bookings(
    c: Collaborators, page: PageParams, *, status: BookingStatus | None, session_id: UUID | None
) -> Page[BookingOut]:
    """Your own bookings; with `session_id`, staff (coordinator+) of the hosting organization and
    operators get the session's whole roster (without other people's check-in codes)."""
    me = c.principal.person_id
    statement = booking_view()
    if session_id is not None:
        statement = statement.where(bookings.c.session_id == session_id)
        if not await _is_host_staff(c, session_id):
            statement = statement.where(bookings.c.person_id == me)
    else:
        statement = statement.where(bookings.c.person_id == me)
    if status is not None:
        statement = statement.where(bookings.c.status == status.value)
    rows, next_cursor = await paginate(
        c.session, statement, keyset=[bookings.c.id], key_of=lambda r: [r.id], page=page, scalars=False
    )
    return Page(items=[booking_out(r, show_code=r.person_id == me) for r in rows], next_cursor=next_cursor)


async def _is_host_staff(c: Collaborators, session_id: UUID) -> bool:
    session_row = await InventoryRepository(c.session).get(session_id)
    return session_row is not None and await bola.is_host_staff(c.principal, c.memberships, session_row.host_org_id)
