"""What booking tells other services, always inside the transaction of the change it reports."""

from collections.abc import Iterable
from typing import Any

from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncSession

from services.booking.inventory.repository import Figures
from shared.events.outbox import Outbox
from shared.events.schemas import BookingCause, BookingChanged

BOOKINGS_ENTERED = ("learncity_bookings_total", "Bookings by the status they entered", ["status"])
BOOKING_EVENT_TYPES = {
    "confirmed": "booking.confirmed",
    "waitlisted": "booking.waitlisted",
    "cancelled": "booking.cancelled",
    "no_show": "booking.no_show",
}


async def availability_changed(session: AsyncSession, outbox: Outbox, figures: Figures) -> None:
    await outbox.emit(session, "availability.changed", figures.session_id, figures.payload())


def booking_changed(booking: Any, cause: BookingCause) -> BookingChanged:
    """The payload of `booking.<status>` for a booking (a row or a `BookingOut`) that entered its status:
    a confirmed one carries its check-in code, a waitlisted one its place in line (`waitlist_position`)."""
    return BookingChanged(
        booking_id=booking.id,
        session_id=booking.session_id,
        person_id=booking.person_id,
        organization_id=booking.organization_id,
        seats=booking.seats,
        status=booking.status,
        cause=cause,
        waitlist_position=booking.waitlist_position if booking.status == "waitlisted" else None,
        checkin_code=booking.checkin_code if booking.status == "confirmed" else None,
        block_id=getattr(booking, "block_id", None),
    )


async def bookings_changed(
    session: AsyncSession, outbox: Outbox, bookings: Iterable[Any], entered: Counter, cause: BookingCause
) -> None:
    """Each booking (id, session_id, person_id, organization_id, seats, status, checkin_code, and
    waitlist_position when waitlisted) entered its status because of `cause`: counted in
    `learncity_bookings_total{status}` (`entered`) and told as `booking.<status>` to its subscribers
    (nothing is written while nobody subscribes)."""
    for booking in bookings:
        entered.labels(str(booking.status)).inc()
        event_type = BOOKING_EVENT_TYPES[booking.status]
        if outbox.subscribers_of(event_type):
            await outbox.emit(session, event_type, booking.id, booking_changed(booking, cause))
