"""Member lines of organization blocks and the audit of their seats. Lines are bookings (`block_id` set);
like every status change, theirs happen while the caller holds the session's inventory row lock, taking the
block's row before its lines' rows (every path in the same order, so none deadlocks another)."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Select, any_, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.booking.bookings.repository import BOOKING_COLUMNS, bookings, checkins, inventory, new_checkin_code
from services.booking.models import ACTIVE_STATUSES, AnyRow, LineAssignment, table_of
from shared.ids import new_id

assignments = table_of(LineAssignment)
_b, _a = bookings.c, assignments.c
# A line whose seat is named to its member: held (confirmed, checked in or not) or missed (no_show).
NAMED_STATUSES = ("confirmed", "no_show")
# The bookings that hold a seat of a person (their own, or a line): one active per person and session.
_HOLDS_A_SEAT = (_b.organization_id.is_(None)) | (_b.block_id.is_not(None))


@dataclass(frozen=True, slots=True)
class Assignment:
    """One row of the audit: `line_id` made (assigned, reassigned) or cancelled (unassigned)."""

    block_id: UUID
    line_id: UUID
    action: str
    person_id: UUID
    by_person_id: UUID
    previous_person_id: UUID | None = None


@dataclass(frozen=True, slots=True)
class BlockRef:
    """What a line copies of its block."""

    id: UUID
    session_id: UUID
    organization_id: UUID | None
    session_ends_at: datetime


def is_block(booking: Any) -> bool:
    """An organization block (not one of its lines, not a personal booking)."""
    return booking.organization_id is not None and booking.block_id is None


class LineRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add_lines(self, block: Any, members: Sequence[UUID], now: datetime) -> Sequence[AnyRow]:
        """A confirmed line, with a code of its own, for each member, in the order given. `block` carries
        id, session_id, organization_id and session_ends_at; the caller checked (under the session's row
        lock) that no member holds an active booking of the session."""
        if not members:
            return ()
        values = [
            {
                "id": new_id(),
                "session_id": block.session_id,
                "person_id": member,
                "organization_id": block.organization_id,
                "block_id": block.id,
                "seats": 1,
                "status": "confirmed",
                "checkin_code": new_checkin_code(),
                "confirmed_at": now,
                "created_at": now,
                "session_ends_at": block.session_ends_at,
            }
            for member in members
        ]
        rows = (await self.session.execute(insert(bookings).values(values).returning(*BOOKING_COLUMNS))).all()
        order = {member: index for index, member in enumerate(members)}
        return sorted(rows, key=lambda row: order[row.person_id])

    async def record(self, made: Iterable[Assignment], now: datetime) -> None:
        values = [
            {
                "id": new_id(),
                "block_id": a.block_id,
                "line_id": a.line_id,
                "action": a.action,
                "person_id": a.person_id,
                "previous_person_id": a.previous_person_id,
                "by_person_id": a.by_person_id,
                "at": now,
            }
            for a in made
        ]
        if values:
            await self.session.execute(insert(assignments).values(values))

    async def holders_among(self, session_id: UUID, person_ids: Sequence[UUID]) -> list[UUID]:
        """Who of `person_ids` holds an active seat (own booking or line) of the session, in their order."""
        if not person_ids:
            return []
        statement = select(_b.person_id).where(
            _b.session_id == session_id,
            _b.person_id.in_(person_ids),
            _b.status.in_(ACTIVE_STATUSES),
            _HOLDS_A_SEAT,
        )
        holding = set((await self.session.execute(statement)).scalars())
        return [person_id for person_id in person_ids if person_id in holding]

    async def named_seats(self, block_id: UUID) -> int:
        statement = select(func.count()).where(_b.block_id == block_id, _b.status.in_(NAMED_STATUSES))
        return int((await self.session.execute(statement)).scalar_one())

    async def unnamed_seats(self, booking_id: UUID) -> int | None:
        """An organization block's seats not named to a member; None for any other booking."""
        named = select(func.count()).where(_b.block_id == booking_id, _b.status.in_(NAMED_STATUSES))
        statement = select(_b.seats - named.scalar_subquery()).where(
            _b.id == booking_id, _b.organization_id.is_not(None), _b.block_id.is_(None)
        )
        unnamed: int | None = (await self.session.execute(statement)).scalar_one_or_none()
        return unnamed

    async def lines_of(self, block_ids: Sequence[UUID]) -> Sequence[AnyRow]:
        """The lines of these blocks (every status), oldest first, with their check-in times."""
        if not block_ids:
            return ()
        statement = (
            select(_b.id, _b.block_id, _b.person_id, _b.status, checkins.c.checked_in_at)
            .outerjoin(checkins, checkins.c.booking_id == _b.id)
            .where(_b.block_id.in_(block_ids))
            .order_by(_b.id)
        )
        return (await self.session.execute(statement)).all()

    async def lock_active_lines(self, block_id: UUID) -> Sequence[AnyRow]:
        statement = (
            select(*BOOKING_COLUMNS)
            .where(_b.block_id == block_id, _b.status == "confirmed")
            .order_by(_b.id)
            .with_for_update()
        )
        return (await self.session.execute(statement)).all()

    async def any_checked_in(self, booking_ids: Sequence[UUID]) -> bool:
        if not booking_ids:
            return False
        statement = select(checkins.c.booking_id).where(checkins.c.booking_id.in_(booking_ids)).limit(1)
        return (await self.session.execute(statement)).first() is not None

    async def cancel_many(self, booking_ids: Sequence[UUID], now: datetime, reason: str) -> Sequence[AnyRow]:
        if not booking_ids:
            return ()
        statement = (
            update(bookings)
            .where(_b.id.in_(booking_ids))
            .values(status="cancelled", checkin_code=None, cancelled_at=now, cancel_reason=reason)
            .returning(*BOOKING_COLUMNS)
        )
        return sorted((await self.session.execute(statement)).all(), key=lambda row: row.id)

    async def shrink_block(self, block_id: UUID) -> None:
        """One seat fewer (a member line's seat freed); the caller keeps at least one."""
        await self.session.execute(update(bookings).where(_b.id == block_id).values(seats=_b.seats - 1))

    # Naming a waitlisted block's members once it is confirmed.

    async def pending_of(self, block_ids: Sequence[UUID]) -> Sequence[AnyRow]:
        """Of these blocks, those with named members waiting for lines."""
        statement = select(
            _b.id, _b.session_id, _b.person_id, _b.organization_id, _b.session_ends_at, _b.pending_members
        ).where(_b.id.in_(block_ids), func.cardinality(_b.pending_members) > 0)
        return (await self.session.execute(statement.order_by(_b.id))).all()

    async def clear_pending(self, block_ids: Sequence[UUID]) -> None:
        await self.session.execute(update(bookings).where(_b.id.in_(block_ids)).values(pending_members=[]))

    async def forget_pending(self, person_id: UUID, session_id: UUID, organization_id: UUID | None = None) -> None:
        """Take the person off the named members of the session's waitlisted blocks (of one organization,
        or of all)."""
        statement = update(bookings).where(
            _b.session_id == session_id,
            _b.block_id.is_(None),
            _b.status == "waitlisted",
            (any_(_b.pending_members) == person_id),
        )
        if organization_id is not None:
            statement = statement.where(_b.organization_id == organization_id)
        await self.session.execute(statement.values(pending_members=func.array_remove(_b.pending_members, person_id)))

    # A member leaving an organization.

    async def sessions_naming(self, person_id: UUID, organization_id: UUID, now: datetime) -> list[UUID]:
        """Sessions not yet started where the person holds an active line of the organization's blocks or is
        named to a waitlisted one; in id order, the order in which they are locked."""
        named = (_b.block_id.is_not(None) & (_b.person_id == person_id) & (_b.status == "confirmed")) | (
            _b.block_id.is_(None) & (_b.status == "waitlisted") & (any_(_b.pending_members) == person_id)
        )
        statement = (
            select(_b.session_id)
            .join(inventory, inventory.c.session_id == _b.session_id)
            .where(_b.organization_id == organization_id, named, inventory.c.starts_at > now)
            .distinct()
            .order_by(_b.session_id)
        )
        return list((await self.session.execute(statement)).scalars())

    async def active_lines_of(self, person_id: UUID, session_id: UUID, organization_id: UUID) -> Sequence[AnyRow]:
        """The person's active lines of the session in the organization's blocks; not locked."""
        statement = select(*BOOKING_COLUMNS).where(
            _b.session_id == session_id,
            _b.person_id == person_id,
            _b.organization_id == organization_id,
            _b.block_id.is_not(None),
            _b.status == "confirmed",
        )
        return (await self.session.execute(statement)).all()

    # The audit.

    def assignments_of(self, block_id: UUID) -> Select[Any]:
        return select(assignments).where(_a.block_id == block_id)
