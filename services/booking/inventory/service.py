"""Knowing sessions: from catalog events, or asked of the catalog when a booking names an unknown one."""

from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime
from typing import Any
from uuid import UUID

import structlog
from prometheus_client import Counter
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from services.booking.bookings.repository import BookingRepository
from services.booking.bookings.waitlist import promote_waitlist
from services.booking.inventory.repository import Capacities, Figures, InventoryRepository, SeatPool
from services.booking.publishing import availability_changed, bookings_changed
from shared.clients import ServiceClient
from shared.db import utcnow
from shared.errors import Conflict, NotFound, ServiceUnavailable, Unprocessable
from shared.events.inbox import Handler
from shared.events.outbox import Outbox
from shared.events.schemas import EventEnvelope, SessionSnapshot

logger = structlog.get_logger(__name__)

SESSION_CANCELLED_REASON = "session_cancelled"


async def fetch_snapshot(catalog: ServiceClient, session_id: UUID) -> SessionSnapshot:
    """The catalog's current view of a session: 404 when the catalog does not know it, 503 (with
    Retry-After, after bounded retries) when the catalog cannot be reached."""
    try:
        body = await catalog.get_json(f"/internal/v1/sessions/{session_id}")
    except NotFound as exc:
        raise NotFound("Session not found") from exc
    try:
        return SessionSnapshot.model_validate(body)
    except ValidationError as exc:
        raise ServiceUnavailable("The catalog answered with an unexpected session") from exc


async def learn(session: AsyncSession, outbox: Outbox, catalog: ServiceClient, session_id: UUID) -> None:
    """Ask the catalog about a session booking has not heard of and store it, as if its event had come.
    Call with no transaction open: nothing is held while the catalog answers."""
    snapshot = await fetch_snapshot(catalog, session_id)
    created = await InventoryRepository(session).insert_if_absent(snapshot, utcnow())
    if created is not None:
        await availability_changed(session, outbox, created)


def refusal_reason(row: Any, now: datetime) -> str | None:
    """Why the session takes no bookings now (None: it does). A session is past once it has started."""
    if row.status == "cancelled":
        return "The session is cancelled"
    if row.starts_at <= now:
        return "The session has already started"
    if row.booking_opens_at is not None and now < row.booking_opens_at:
        return f"Booking opens at {row.booking_opens_at.isoformat()}"
    if row.booking_closes_at is not None and now >= row.booking_closes_at:
        return "Booking is closed for this session"
    return None


def ensure_bookable(row: Any, now: datetime) -> None:
    reason = refusal_reason(row, now)
    if reason is not None:
        raise Conflict(reason, extra={"reason": _reason_code(row, now)})


def ensure_seat_offered(row: Any, pool: SeatPool) -> None:
    """The session (`row`: its inventory row) has seats of the pool asked for: online seats apart only on a
    hybrid session (an online session's seats are its standard ones: 422 either way, whatever its figures);
    accessible seats only in person (422 for an online session) and only where the session keeps some (409:
    the host may add them later)."""
    if pool == SeatPool.online and row.mode != "hybrid":
        raise Unprocessable(
            "Online seats are booked apart only on a hybrid session; an online session's seats are its standard "
            "ones (leave `seat` out)",
            pointer="/body/seat",
            extra={"reason": "seat_not_offered"},
        )
    if pool == SeatPool.accessible and row.mode == "online":
        raise Unprocessable(
            "An online session has no in-person seats, accessible or not (leave `seat` out)",
            pointer="/body/seat",
            extra={"reason": "seat_not_offered"},
        )
    if pool == SeatPool.accessible and row.accessible_capacity == 0:
        raise Conflict(
            "This session keeps no accessible seats; book a standard seat or ask its host",
            extra={"reason": "no_accessible_seats"},
        )


def _reason_code(row: Any, now: datetime) -> str:
    if row.status == "cancelled":
        return "session_cancelled"
    if row.starts_at <= now:
        return "session_started"
    return "booking_closed"


async def apply_snapshot(session: AsyncSession, outbox: Outbox, snapshot: SessionSnapshot, entered: Counter) -> None:
    """Apply the catalog's newest view of a session (its mode, join link and seats per pool): a cancelled
    session cancels every active booking; a pool that grows promotes its waitlist; a pool below its confirmed
    seats (a race the catalog's check could not see) keeps the confirmed seats, never bumping anyone."""
    now = utcnow()
    repository = InventoryRepository(session)
    current = await repository.get(snapshot.session_id, for_update=True)
    if current is None:
        created = await repository.insert_if_absent(snapshot, now)
        if created is not None:
            await availability_changed(session, outbox, created)
            return
        current = await repository.get(snapshot.session_id, for_update=True)
        assert current is not None
    before = Figures.of(current)
    kept = Capacities.kept(snapshot, before)
    asked = Capacities.kept(snapshot)
    if kept != asked:
        logger.warning(
            "capacity_below_confirmed_seats",
            session_id=str(snapshot.session_id),
            requested=asdict(asked),
            confirmed_seats=current.confirmed_seats,
            accessible_confirmed=current.accessible_confirmed,
            online_confirmed=current.online_confirmed,
            kept=asdict(kept),
        )
    figures = await repository.apply_snapshot(snapshot, kept, now)
    if snapshot.ends_at != current.ends_at:  # the session moved: its bookings carry its end
        await BookingRepository(session).move_session_end(snapshot.session_id, snapshot.ends_at)
    if snapshot.status == "cancelled":
        cancelled = await BookingRepository(session).cancel_all_active(
            snapshot.session_id, now, SESSION_CANCELLED_REASON
        )
        if cancelled:
            figures = await repository.empty(snapshot.session_id, now)
            await bookings_changed(session, outbox, cancelled, entered, "session_cancelled")
    else:
        figures, promoted = await promote_waitlist(session, figures, now)
        await bookings_changed(session, outbox, promoted, entered, "promoted")
    if figures != before:
        await availability_changed(session, outbox, figures)


def session_event_handler(outbox_of: Callable[[], Outbox], entered: Counter) -> Handler:
    """The inbox handler of `session.scheduled|updated|cancelled` (each carries the whole session).
    `outbox_of` is asked at delivery time: the outbox is built in the app's lifespan, after the handlers."""

    async def handle(session: AsyncSession, envelope: EventEnvelope) -> None:
        await apply_snapshot(session, outbox_of(), SessionSnapshot.model_validate(envelope.payload), entered)

    return handle
