from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.booking.learning_records.schemas import LearningTotals
from services.booking.models import Checkin, table_of

checkins = table_of(Checkin)
_c = checkins.c


def _in_range(statement: Select[Any], from_: datetime | None, to: datetime | None) -> Select[Any]:
    """Half-open `[from, to)` on when the session started (when the learning happened)."""
    if from_ is not None:
        statement = statement.where(_c.starts_at >= from_)
    if to is not None:
        statement = statement.where(_c.starts_at < to)
    return statement


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
