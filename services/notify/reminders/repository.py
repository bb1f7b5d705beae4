"""Reminder rows: armed per confirmed booking and offset, claimed by the reminder worker when due."""

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from sqlalchemy import delete, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.notify.models import AnyRow, Reminder, table_of
from services.notify.sql import any_of, in_chunks

reminders = table_of(Reminder)
_r = reminders.c


@dataclass(frozen=True, slots=True)
class Armed:
    booking_id: UUID
    minutes_before: int
    person_id: UUID
    session_id: UUID
    due_at: datetime


class ReminderRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def replace_unsent(self, booking_ids: Collection[UUID], wanted: Sequence[Armed]) -> None:
        """The bookings' unsent reminders become `wanted`. A sent reminder stays sent while its time is
        unchanged; one whose time moved (its session moved) is armed again."""
        await self.drop_unsent(booking_ids)
        for chunk in in_chunks(wanted):
            statement = insert(reminders).values(
                [
                    {
                        "booking_id": armed.booking_id,
                        "minutes_before": armed.minutes_before,
                        "person_id": armed.person_id,
                        "session_id": armed.session_id,
                        "due_at": armed.due_at,
                    }
                    for armed in chunk
                ]
            )
            statement = statement.on_conflict_do_update(
                index_elements=[_r.booking_id, _r.minutes_before],
                set_={"due_at": statement.excluded.due_at, "sent_at": None},
                where=_r.due_at != statement.excluded.due_at,
            )
            await self.session.execute(statement)

    async def drop_unsent(self, booking_ids: Collection[UUID]) -> None:
        if booking_ids:
            await self.session.execute(
                delete(reminders).where(any_of(_r.booking_id, booking_ids), _r.sent_at.is_(None))
            )

    async def drop_unsent_of_session(self, session_id: UUID) -> None:
        await self.session.execute(delete(reminders).where(_r.session_id == session_id, _r.sent_at.is_(None)))

    async def claim_due(self, now: datetime, limit: int) -> list[AnyRow]:
        """Due unsent reminders, locked for this transaction; rows another worker holds are skipped."""
        statement = (
            select(reminders)
            .where(_r.sent_at.is_(None), _r.due_at <= now)
            .order_by(_r.due_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return list((await self.session.execute(statement)).all())

    async def mark_sent(self, keys: Sequence[tuple[UUID, int]], now: datetime) -> None:
        """Mark these (booking, minutes before) reminders sent."""
        if keys:
            condition = tuple_(_r.booking_id, _r.minutes_before).in_(list(keys))
            await self.session.execute(update(reminders).where(condition).values(sent_at=now))

    async def of_person(self, person_id: UUID) -> list[AnyRow]:
        statement = select(reminders).where(_r.person_id == person_id).order_by(_r.due_at, _r.booking_id)
        return list((await self.session.execute(statement)).all())
