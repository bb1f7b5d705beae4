"""Everything in the booking schema that names a person, read for their export or erased for good.

Names a person: `bookings.person_id`, `checkins.person_id` and `checkins.checked_in_by`,
`idempotency_keys` (and the responses stored there), `rate_windows`, and the payloads of the outbox's
`booking.*` rows. Nothing else does: the inventory is the catalog's sessions, outbox sequences and inbox
positions are keyed by bookings, sessions and erasures, and the inbox keeps event ids only."""

from collections.abc import Sequence
from uuid import UUID

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.booking.bookings.repository import BOOKING_COLUMNS, booking_view, bookings, inventory
from services.booking.models import ACTIVE_STATUSES, AnyRow, Checkin, IdempotencyKey, RateWindow, event_tables, table_of

checkins = table_of(Checkin)
idempotency_keys = table_of(IdempotencyKey)
rate_windows = table_of(RateWindow)
outbox = event_tables.outbox
_b, _c = bookings.c, checkins.c


class PersonDataRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def bookings(self, person_id: UUID) -> Sequence[AnyRow]:
        statement = (
            booking_view()
            .add_columns(
                _b.confirmed_at,
                _b.cancel_reason,
                inventory.c.title.label("session_title"),
                inventory.c.starts_at.label("session_starts_at"),
                inventory.c.ends_at.label("session_ends_at"),
            )
            .where(_b.person_id == person_id)
            .order_by(_b.id)
        )
        return (await self.session.execute(statement)).all()

    async def checkins(self, person_id: UUID) -> Sequence[AnyRow]:
        statement = select(checkins).where(_c.person_id == person_id).order_by(_c.starts_at, _c.booking_id)
        return (await self.session.execute(statement)).all()

    async def checkins_performed(self, person_id: UUID) -> Sequence[AnyRow]:
        statement = (
            select(_c.session_id, _c.checked_in_at)
            .where(_c.checked_in_by == person_id)
            .order_by(_c.checked_in_at, _c.booking_id)
        )
        return (await self.session.execute(statement)).all()

    async def sessions_with_active_bookings(self, person_id: UUID) -> list[UUID]:
        """In session id order: the order in which an erasure locks them (two erasures never deadlock)."""
        statement = (
            select(_b.session_id)
            .where(_b.person_id == person_id, _b.status.in_(ACTIVE_STATUSES))
            .distinct()
            .order_by(_b.session_id)
        )
        return list((await self.session.execute(statement)).scalars())

    async def lock_active_booking(self, person_id: UUID, session_id: UUID) -> AnyRow | None:
        """The person's active booking of the session (there is one at most), locked."""
        statement = (
            select(*BOOKING_COLUMNS)
            .where(_b.person_id == person_id, _b.session_id == session_id, _b.status.in_(ACTIVE_STATUSES))
            .with_for_update()
        )
        return (await self.session.execute(statement)).first()

    async def anonymize(self, person_id: UUID, anonymous_id: UUID) -> None:
        """The person's bookings and check-ins stay, as aggregates, under `anonymous_id`; a booking keeps no
        check-in code (call once none of them is confirmed)."""
        await self.session.execute(
            update(bookings).where(_b.person_id == person_id).values(person_id=anonymous_id, checkin_code=None)
        )
        await self.session.execute(update(checkins).where(_c.person_id == person_id).values(person_id=anonymous_id))
        await self.session.execute(
            update(checkins).where(_c.checked_in_by == person_id).values(checked_in_by=anonymous_id)
        )

    async def forget(self, person_id: UUID) -> None:
        """Delete their idempotency records (the stored responses name them), their rate window, and every
        outbox row whose payload names them (pending or delivered)."""
        await self.session.execute(delete(idempotency_keys).where(idempotency_keys.c.person_id == person_id))
        await self.session.execute(delete(rate_windows).where(rate_windows.c.person_id == person_id))
        await self.session.execute(delete(outbox).where(outbox.c.payload["person_id"].astext == str(person_id)))
