"""Preferences people saved; a person without a row has the defaults."""

from collections.abc import Iterable, Sequence
from datetime import datetime
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.notify.models import AnyRow, Preference, table_of
from services.notify.sql import any_of

preferences = table_of(Preference)
_p = preferences.c


class PreferenceRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, person_id: UUID) -> AnyRow | None:
        return (await self.session.execute(select(preferences).where(_p.person_id == person_id))).first()

    async def of_people(self, person_ids: Iterable[UUID]) -> dict[UUID, AnyRow]:
        wanted = list(set(person_ids))
        if not wanted:
            return {}
        rows = await self.session.execute(select(preferences).where(any_of(_p.person_id, wanted)))
        return {row.person_id: row for row in rows}

    async def save(
        self, person_id: UUID, *, email: bool, language: str, reminders: Sequence[int], now: datetime
    ) -> AnyRow:
        values = {"email": email, "language": language, "reminders_minutes_before": list(reminders), "updated_at": now}
        statement = (
            insert(preferences)
            .values(person_id=person_id, **values)
            .on_conflict_do_update(index_elements=[_p.person_id], set_=values)
            .returning(*preferences.c)
        )
        return (await self.session.execute(statement)).one()
