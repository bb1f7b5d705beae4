"""Seats freed (a cancellation, a larger capacity) go to the waitlist in FIFO order.

Called only while the session's inventory row is locked by the caller's transaction: two cancellations
racing for the same session take turns, so each waitlisted booking is promoted exactly once.
Strict FIFO: when the head of the line needs more seats than are free, it waits and so does everyone
behind it (a large group is never starved by smaller bookings slipping past it).
"""

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.booking.bookings.repository import BookingRepository
from services.booking.inventory.repository import Figures, InventoryRepository
from services.booking.models import AnyRow


async def promote_waitlist(session: AsyncSession, figures: Figures, now: datetime) -> tuple[Figures, Sequence[AnyRow]]:
    """Confirm the longest waitlist prefix that fits; returns the new figures and the promoted rows."""
    free = figures.free_for_waitlist
    if free <= 0:
        return figures, ()
    repository = BookingRepository(session)
    head = await repository.waitlist_head_that_fits(figures.session_id, free)
    if not head:
        return figures, ()
    promoted = await repository.promote([row.id for row in head], now)
    figures = await InventoryRepository(session).change_figures(
        figures.session_id,
        confirmed_delta=sum(row.seats for row in promoted),
        waitlist_delta=-len(promoted),
        now=now,
    )
    return figures, promoted


async def cancel_and_promote(
    session: AsyncSession, booking: AnyRow, now: datetime, *, reason: str, promote: bool = True
) -> tuple[AnyRow, Figures, Sequence[AnyRow]]:
    """Cancel an active booking (its row and its session's row locked by the caller): its seats, or its
    place in line, are freed, and with `promote` the waitlist gets the freed seats. Returns the cancelled
    row, the new figures and the promoted rows."""
    cancelled = await BookingRepository(session).cancel(booking.id, now, reason=reason)
    was_confirmed = booking.status == "confirmed"
    figures = await InventoryRepository(session).change_figures(
        booking.session_id,
        confirmed_delta=-booking.seats if was_confirmed else 0,
        waitlist_delta=0 if was_confirmed else -1,
        now=now,
    )
    if not promote:
        return cancelled, figures, ()
    figures, promoted = await promote_waitlist(session, figures, now)
    return cancelled, figures, promoted
