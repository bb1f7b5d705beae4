"""Arming reminders: for each confirmed booking, one per offset of its person's preference whose time is
still ahead. Re-armed whenever the session moves or the person changes their offsets."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from services.notify.context import NotifyContext
from services.notify.preferences.repository import PreferenceRepository
from services.notify.projection.repository import HoldingRepository
from services.notify.recipients.service import reminder_offsets
from services.notify.reminders.repository import Armed, ReminderRepository

# A person's upcoming confirmed sessions re-armed at once when their offsets change (bookings per person
# are bounded by booking's active-bookings limit far below this).
_REARM_LIMIT = 1000


@dataclass(frozen=True, slots=True)
class Seat:
    """A confirmed booking and when its session starts."""

    booking_id: UUID
    person_id: UUID
    session_id: UUID
    starts_at: datetime


def reminder_cause(booking_id: UUID, minutes_before: int, starts_at: datetime) -> str:
    """A reminder is one notice per booking, offset and start time: a moved session reminds again."""
    return f"reminder:{booking_id}:{minutes_before}:{starts_at.astimezone(UTC).isoformat()}"


async def arm(db: AsyncSession, context: NotifyContext, seats: Sequence[Seat], now: datetime) -> None:
    """The seats' unsent reminders become those their people want, at times still ahead."""
    if not seats:
        return
    preferences = await PreferenceRepository(db).of_people(seat.person_id for seat in seats)
    wanted = [
        Armed(seat.booking_id, minutes, seat.person_id, seat.session_id, seat.starts_at - timedelta(minutes=minutes))
        for seat in seats
        for minutes in reminder_offsets(preferences.get(seat.person_id), context)
        if seat.starts_at - timedelta(minutes=minutes) > now
    ]
    await ReminderRepository(db).replace_unsent([seat.booking_id for seat in seats], wanted)


async def rearm_person(db: AsyncSession, context: NotifyContext, person_id: UUID, now: datetime) -> None:
    rows = await HoldingRepository(db).confirmed_sessions(
        person_id, ending_after=now, scheduled_only=True, limit=_REARM_LIMIT
    )
    seats = [Seat(row.booking_id, row.person_id, row.session_id, row.starts_at) for row in rows]
    await arm(db, context, seats, now)
