from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.booking.models import AnyRow, Booking, Checkin, Inventory, table_of

bookings = table_of(Booking)
checkins = table_of(Checkin)
inventory = table_of(Inventory)
_b, _i = bookings.c, inventory.c


class CheckinRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def by_code(self, code: str) -> AnyRow | None:
        """The confirmed booking holding `code`, its session, and its check-in time if already checked in."""
        statement = (
            select(
                _b.id,
                _b.person_id,
                _b.session_id,
                _i.host_org_id,
                _i.title,
                _i.kind,
                _i.starts_at,
                _i.ends_at,
                checkins.c.checked_in_at,
            )
            .join(inventory, _i.session_id == _b.session_id)
            .outerjoin(checkins, checkins.c.booking_id == _b.id)
            .where(_b.checkin_code == code, _b.status == "confirmed")
        )
        return (await self.session.execute(statement)).first()

    async def lock_confirmed(self, booking_id: UUID) -> bool:
        """Lock the booking while it is still confirmed: a concurrent cancellation finishes first."""
        statement = select(_b.id).where(_b.id == booking_id, _b.status == "confirmed").with_for_update()
        return (await self.session.execute(statement)).first() is not None

    async def record(self, booking: Any, minutes: int, by: UUID, now: datetime) -> datetime | None:
        """The check-in time, or None when the booking was checked in already (its primary key)."""
        statement = (
            insert(checkins)
            .values(
                booking_id=booking.id,
                person_id=booking.person_id,
                session_id=booking.session_id,
                host_org_id=booking.host_org_id,
                title=booking.title,
                kind=booking.kind,
                starts_at=booking.starts_at,
                minutes=minutes,
                checked_in_at=now,
                checked_in_by=by,
            )
            .on_conflict_do_nothing(index_elements=[checkins.c.booking_id])
            .returning(checkins.c.checked_in_at)
        )
        checked_in_at: datetime | None = (await self.session.execute(statement)).scalar_one_or_none()
        return checked_in_at

    async def checked_in_at(self, booking_id: UUID) -> datetime | None:
        statement = select(checkins.c.checked_in_at).where(checkins.c.booking_id == booking_id)
        return (await self.session.execute(statement)).scalar_one_or_none()
