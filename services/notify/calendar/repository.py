"""Calendar feeds: a person's one secret token, kept only as its SHA-256."""

from datetime import datetime
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.notify.models import CalendarFeed, table_of

feeds = table_of(CalendarFeed)
_f = feeds.c


class CalendarFeedRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def replace(self, person_id: UUID, token_hash: str, now: datetime) -> None:
        """The person's feed now answers only to this token (the old one stops working)."""
        values = {"token_hash": token_hash, "created_at": now}
        statement = (
            insert(feeds)
            .values(person_id=person_id, **values)
            .on_conflict_do_update(index_elements=[_f.person_id], set_=values)
        )
        await self.session.execute(statement)

    async def owner_of(self, token_hash: str) -> UUID | None:
        statement = select(_f.person_id).where(_f.token_hash == token_hash)
        owner: UUID | None = (await self.session.execute(statement)).scalar_one_or_none()
        return owner
