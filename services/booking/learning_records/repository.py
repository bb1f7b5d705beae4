from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import ARRAY, ColumnElement, Select, Uuid, any_, func, literal, select, union
from sqlalchemy.ext.asyncio import AsyncSession

from services.booking.learning_records.schemas import LearningTotals
from services.booking.models import Booking, Checkin, Inventory, table_of

checkins = table_of(Checkin)
bookings = table_of(Booking)
inventory = table_of(Inventory)
_c, _b, _i = checkins.c, bookings.c, inventory.c


def _in_range(
    statement: Select[Any],
    from_: datetime | None,
    to: datetime | None,
    starts_at: ColumnElement[datetime] = _c.starts_at,
) -> Select[Any]:
    """Half-open `[from, to)` on when the session started (when the learning happened)."""
    if from_ is not None:
        statement = statement.where(starts_at >= from_)
    if to is not None:
        statement = statement.where(starts_at < to)
    return statement


def _one_of(person_id: ColumnElement[UUID], person_ids: Sequence[UUID]) -> ColumnElement[bool]:
    """`= ANY(array)`: one bind parameter however many people (a CSV report names every member, and
    PostgreSQL takes at most 32767 parameters per statement)."""
    return person_id == any_(literal(list(person_ids), ARRAY(Uuid)))


def _month(starts_at: ColumnElement[datetime], zone: str) -> ColumnElement[str]:
    """ "YYYY-MM" of a moment in the wall time of `zone`."""
    return func.to_char(func.timezone(zone, starts_at), "YYYY-MM")


@dataclass(frozen=True, slots=True)
class AttendedMonth:
    """A person's check-ins of one month and kind, at the organization's own sessions or elsewhere."""

    person_id: UUID
    month: str
    kind: str
    at_organization: bool
    minutes: int
    sessions: int


class LearningRecordRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def totals(
        self, person_ids: Sequence[UUID], from_: datetime | None, to: datetime | None
    ) -> dict[UUID, LearningTotals]:
        """Totals per person (every person asked for is in the answer, with zeros when nothing attended)."""
        statement = _in_range(
            select(_c.person_id, _c.kind, func.sum(_c.minutes), func.count())
            .where(_c.person_id.in_(person_ids))
            .group_by(_c.person_id, _c.kind),
            from_,
            to,
        )
        totals = {
            person_id: LearningTotals(total_minutes=0, sessions_attended=0, by_kind={}) for person_id in person_ids
        }
        for person_id, kind, minutes, attended in (await self.session.execute(statement)).all():
            entry = totals[person_id]
            entry.by_kind[kind] = int(minutes)
            entry.total_minutes += int(minutes)
            entry.sessions_attended += int(attended)
        return totals

    def items(self, person_id: UUID, from_: datetime | None, to: datetime | None) -> Select[Any]:
        return _in_range(select(checkins).where(_c.person_id == person_id), from_, to)

    async def attended_months(
        self,
        organization_id: UUID,
        person_ids: Sequence[UUID],
        from_: datetime | None,
        to: datetime | None,
        zone: str,
    ) -> list[AttendedMonth]:
        """The people's check-ins of sessions started in `[from, to)`, summed per month (in `zone`), kind,
        and whether `organization_id` hosted them."""
        each = _in_range(
            select(
                _c.person_id,
                _c.kind,
                _c.minutes,
                (_c.host_org_id == organization_id).label("at_organization"),
                _month(_c.starts_at, zone).label("month"),
            ).where(_one_of(_c.person_id, person_ids)),
            from_,
            to,
        ).subquery()
        statement = select(
            each.c.person_id, each.c.month, each.c.kind, each.c.at_organization, func.sum(each.c.minutes), func.count()
        ).group_by(each.c.person_id, each.c.month, each.c.kind, each.c.at_organization)
        return [
            AttendedMonth(person_id, month, kind, at_organization, int(minutes), int(sessions))
            for person_id, month, kind, at_organization, minutes, sessions in (await self.session.execute(statement))
        ]

    async def no_show_months(
        self, person_ids: Sequence[UUID], from_: datetime | None, to: datetime | None, zone: str
    ) -> dict[tuple[UUID, str], int]:
        """The people's no-shows of sessions started in `[from, to)`, counted per (person, month in `zone`)."""
        each = _in_range(
            select(_b.person_id, _month(_i.starts_at, zone).label("month"))
            .join(inventory, _i.session_id == _b.session_id)
            .where(_one_of(_b.person_id, person_ids), _b.status == "no_show"),
            from_,
            to,
            starts_at=_i.starts_at,
        ).subquery()
        statement = select(each.c.person_id, each.c.month, func.count()).group_by(each.c.person_id, each.c.month)
        rows = (await self.session.execute(statement)).all()
        return {(person_id, month): int(count) for person_id, month, count in rows}

    async def active_organizations(self, since: datetime, until: datetime) -> set[UUID]:
        """Organizations that hosted a session (not cancelled) that started in `[since, until]`, or whose
        booking (an organization's block, or one of its member lines) was checked in then."""
        hosted = select(_i.host_org_id).where(_i.status != "cancelled", _i.starts_at.between(since, until))
        attended = (
            select(_b.organization_id)
            .join(checkins, _c.booking_id == _b.id)
            .where(_b.organization_id.is_not(None), _c.checked_in_at.between(since, until))
        )
        return set((await self.session.execute(union(hosted, attended))).scalars())
