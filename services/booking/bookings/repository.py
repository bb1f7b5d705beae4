"""Booking rows. Status changes happen only while the caller holds the session's inventory row lock,
so the waitlist order and the seat figures never disagree."""

import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Select, bindparam, case, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.booking.inventory.repository import SeatPool
from services.booking.models import ACTIVE_STATUSES, AnyRow, Booking, Checkin, Inventory, table_of

bookings = table_of(Booking)
checkins = table_of(Checkin)
inventory = table_of(Inventory)
_b = bookings.c
# What events and outputs need of a booking row.
BOOKING_COLUMNS = (
    _b.id,
    _b.session_id,
    _b.person_id,
    _b.organization_id,
    _b.seats,
    _b.status,
    _b.checkin_code,
    _b.created_at,
    _b.block_id,
    _b.seat_pool,
)


def new_checkin_code() -> str:
    """192 random bits, URL-safe (32 characters): unguessable, and short enough for a QR code."""
    return secrets.token_urlsafe(24)


def _waitlist_position() -> Any:
    ahead = bookings.alias("ahead")
    count_ahead = (
        select(func.count())
        .where(
            ahead.c.session_id == _b.session_id,
            ahead.c.seat_pool == _b.seat_pool,  # each pool has its own line
            ahead.c.status == "waitlisted",
            ahead.c.waitlist_seq <= _b.waitlist_seq,
        )
        .scalar_subquery()
    )
    return case((_b.status == "waitlisted", count_ahead), else_=None).label("waitlist_position")


def booking_view() -> Select[Any]:
    """Bookings as the API shows them: with waitlist position, check-in time, the host organization, a
    waitlisted block's named members and, for a member line, who holds its block (`block_holder_id`)."""
    block = bookings.alias("block")
    return (
        select(
            *BOOKING_COLUMNS,
            _b.cancelled_at,
            _b.pending_members,
            _waitlist_position(),
            checkins.c.checked_in_at,
            inventory.c.host_org_id,
            block.c.person_id.label("block_holder_id"),
        )
        .join(inventory, inventory.c.session_id == _b.session_id)
        .outerjoin(checkins, checkins.c.booking_id == _b.id)
        .outerjoin(block, block.c.id == _b.block_id)
    )


class BookingRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def view(self, booking_id: UUID) -> AnyRow | None:
        row: AnyRow | None = (await self.session.execute(booking_view().where(_b.id == booking_id))).first()
        return row

    async def holder_and_code(self, booking_id: UUID) -> AnyRow | None:
        """The booking's holder, status and check-in code (None when there is no such booking)."""
        statement = select(_b.person_id, _b.status, _b.checkin_code).where(_b.id == booking_id)
        return (await self.session.execute(statement)).first()

    async def holder_and_join_link(self, booking_id: UUID) -> AnyRow | None:
        """The booking's holder, status and seat pool, and its session's mode and join link (None when there
        is no such booking)."""
        statement = (
            select(_b.person_id, _b.status, _b.seat_pool, inventory.c.mode, inventory.c.join_url)
            .join(inventory, inventory.c.session_id == _b.session_id)
            .where(_b.id == booking_id)
        )
        return (await self.session.execute(statement)).first()

    async def lock(self, booking_id: UUID) -> AnyRow | None:
        statement = select(*BOOKING_COLUMNS).where(_b.id == booking_id).with_for_update()
        return (await self.session.execute(statement)).first()

    async def cancel(self, booking_id: UUID, now: datetime, reason: str) -> AnyRow:
        statement = (
            update(bookings)
            .where(_b.id == booking_id)
            .values(status="cancelled", checkin_code=None, cancelled_at=now, cancel_reason=reason)
            .returning(*BOOKING_COLUMNS)
        )
        return (await self.session.execute(statement)).one()

    async def cancel_all_active(self, session_id: UUID, now: datetime, reason: str) -> Sequence[AnyRow]:
        statement = (
            update(bookings)
            .where(_b.session_id == session_id, _b.status.in_(ACTIVE_STATUSES))
            .values(status="cancelled", checkin_code=None, cancelled_at=now, cancel_reason=reason)
            .returning(*BOOKING_COLUMNS)
        )
        return (await self.session.execute(statement)).all()

    async def move_session_end(self, session_id: UUID, ends_at: datetime) -> None:
        """The session moved: its bookings (every status) carry its new end. Call under the session's row
        lock, in the transaction that changes `inventory.ends_at`: a booking made concurrently waits for
        that lock and then copies the new end itself."""
        await self.session.execute(
            update(bookings)
            .where(_b.session_id == session_id, _b.session_ends_at.is_distinct_from(ends_at))
            .values(session_ends_at=ends_at)
        )

    async def waitlist_head_that_fits(self, session_id: UUID, pool: SeatPool, free_seats: int) -> Sequence[AnyRow]:
        """The longest prefix of the pool's waitlist (FIFO) whose seats together fit in `free_seats`.

        Strict FIFO: a head needing more seats than are free blocks those behind it (in its pool only)."""
        waiting = (
            select(_b.id, _b.waitlist_seq, func.sum(_b.seats).over(order_by=_b.waitlist_seq).label("running_seats"))
            .where(_b.session_id == session_id, _b.status == "waitlisted", _b.seat_pool == pool)
            .order_by(_b.waitlist_seq)
            .limit(free_seats)  # every booking takes a seat at least, so no more than this can fit
            .subquery()
        )
        statement = select(waiting.c.id).where(waiting.c.running_seats <= free_seats).order_by(waiting.c.waitlist_seq)
        return (await self.session.execute(statement)).all()

    async def promote(self, booking_ids: Sequence[UUID], now: datetime) -> Sequence[AnyRow]:
        await self.session.execute(
            update(bookings)
            .where(_b.id == bindparam("promoted_id"))
            .values(status="confirmed", checkin_code=bindparam("code"), confirmed_at=now),
            [{"promoted_id": booking_id, "code": new_checkin_code()} for booking_id in booking_ids],
        )
        statement = select(*BOOKING_COLUMNS).where(_b.id.in_(booking_ids)).order_by(_b.waitlist_seq)
        return (await self.session.execute(statement)).all()

    async def checked_in(self, booking_id: UUID) -> bool:
        statement = select(checkins.c.booking_id).where(checkins.c.booking_id == booking_id)
        return (await self.session.execute(statement)).first() is not None
