"""No-shows and the restrictions they earn, in the booking schema."""

from collections.abc import Collection, Sequence
from datetime import datetime
from uuid import UUID

from sqlalchemy import ColumnElement, Integer, bindparam, delete, exists, func, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.booking.bookings.repository import BOOKING_COLUMNS
from services.booking.models import AnyRow, Booking, Checkin, Inventory, Restriction, table_of

bookings = table_of(Booking)
checkins = table_of(Checkin)
inventory = table_of(Inventory)
restrictions = table_of(Restriction)
_b, _r = bookings.c, restrictions.c

# The advisory lock space (first key of the two-key form, which never meets the one-key form's locks) of a
# person's restriction while it is recomputed.
_RESTRICTION_LOCK_SPACE = 0x4E53  # "NS"
_LOCK_PEOPLE = text(
    """SELECT pg_advisory_xact_lock(:space, hashtext(CAST(person_id AS text)))
    FROM (SELECT person_id FROM unnest(CAST(:people AS uuid[])) AS person_id ORDER BY person_id) AS ordered"""
).bindparams(bindparam("space", type_=Integer))


def _not_checked_in() -> ColumnElement[bool]:
    return ~exists().where(checkins.c.booking_id == _b.id)


class AttendanceRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def lock_due(self, ended_after: datetime, ended_before: datetime, limit: int) -> list[UUID]:
        """Up to `limit` confirmed seats (own bookings and member lines; never an organization's block, whose
        seats are its lines' or nobody's) of scheduled sessions that ended in `(ended_after, ended_before)`,
        not checked in, oldest first: locked, skipping any another transaction holds (another replica's
        sweep, a check-in in flight), so no two sweeps ever take the same booking. The lower bound keeps
        the scan short: checked-in bookings stay confirmed, so without it every sweep would read them all."""
        statement = (
            select(_b.id)
            .where(
                _b.status == "confirmed",
                _b.session_ends_at > ended_after,
                _b.session_ends_at < ended_before,
                or_(_b.organization_id.is_(None), _b.block_id.is_not(None)),
                exists().where(inventory.c.session_id == _b.session_id, inventory.c.status == "scheduled"),
                _not_checked_in(),
            )
            .order_by(_b.session_ends_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return list((await self.session.execute(statement)).scalars())

    async def mark_no_show(self, booking_ids: Sequence[UUID]) -> Sequence[AnyRow]:
        """The locked bookings become no-shows; their codes die. A new statement, so a check-in that
        committed while `lock_due` read its snapshot is seen here and keeps its booking confirmed."""
        statement = (
            update(bookings)
            .where(_b.id.in_(booking_ids), _b.status == "confirmed", _not_checked_in())
            .values(status="no_show", checkin_code=None)
            .returning(*BOOKING_COLUMNS)
        )
        return (await self.session.execute(statement)).all()

    async def lock_restrictions_of(self, person_ids: Collection[UUID]) -> None:
        """Serialize recomputing these people's restrictions with other sweeps (in person order, so two
        sweeps never deadlock): a later count then sees the no-shows the other sweep committed."""
        await self.session.execute(_LOCK_PEOPLE, {"space": _RESTRICTION_LOCK_SPACE, "people": list(person_ids)})

    async def no_show_ends(self, person_ids: Collection[UUID], since: datetime) -> dict[UUID, list[datetime]]:
        """When the sessions each person missed after `since` ended, newest first."""
        statement = (
            select(_b.person_id, _b.session_ends_at)
            .where(_b.person_id.in_(person_ids), _b.status == "no_show", _b.session_ends_at > since)
            .order_by(_b.person_id, _b.session_ends_at.desc())
        )
        ends: dict[UUID, list[datetime]] = {person_id: [] for person_id in person_ids}
        for person_id, session_ends_at in (await self.session.execute(statement)).all():
            ends[person_id].append(session_ends_at)
        return ends

    async def no_shows_since(self, person_id: UUID, since: datetime) -> int:
        statement = select(func.count()).where(
            _b.person_id == person_id, _b.status == "no_show", _b.session_ends_at > since
        )
        return int((await self.session.execute(statement)).scalar_one())

    async def restrict(self, rows: Sequence[dict[str, object]]) -> None:
        """Upsert restrictions (person_id, max_active, no_shows, restricted_until, updated_at)."""
        statement = insert(restrictions).values(list(rows))
        statement = statement.on_conflict_do_update(
            index_elements=[_r.person_id],
            set_={
                "max_active": statement.excluded.max_active,
                "no_shows": statement.excluded.no_shows,
                "restricted_until": statement.excluded.restricted_until,
                "updated_at": statement.excluded.updated_at,
            },
        )
        await self.session.execute(statement)

    async def lift(self, person_ids: Collection[UUID]) -> None:
        await self.session.execute(delete(restrictions).where(_r.person_id.in_(person_ids)))

    async def purge_lapsed(self, now: datetime) -> int:
        """Restrictions whose time is up (no booking reads them any more)."""
        result = await self.session.execute(
            delete(restrictions).where(_r.restricted_until <= now).returning(_r.person_id)
        )
        return len(result.all())

    async def restriction(self, person_id: UUID, now: datetime) -> AnyRow | None:
        """The person's restriction while it holds."""
        statement = select(restrictions).where(_r.person_id == person_id, _r.restricted_until > now)
        return (await self.session.execute(statement)).first()
