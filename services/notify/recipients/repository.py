"""The contact cache: what orgs said about how to reach a person, and when."""

from collections.abc import Collection, Sequence
from datetime import datetime
from uuid import UUID

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.notify.models import Contact, table_of
from services.notify.peers import ContactCard
from services.notify.sql import any_of, in_chunks

contacts = table_of(Contact)
_c = contacts.c


class ContactRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def of_people(self, person_ids: Collection[UUID]) -> dict[UUID, tuple[ContactCard, datetime]]:
        """The cached cards of these people, each with when it was fetched."""
        if not person_ids:
            return {}
        rows = await self.session.execute(select(contacts).where(any_of(_c.person_id, person_ids)))
        return {
            row.person_id: (
                ContactCard(
                    person_id=row.person_id, email=row.email, display_name=row.display_name, language=row.language
                ),
                row.fetched_at,
            )
            for row in rows
        }

    async def store(self, cards: Sequence[ContactCard], now: datetime) -> None:
        for chunk in in_chunks(cards):
            statement = insert(contacts).values(
                [
                    {
                        "person_id": card.person_id,
                        "email": card.email,
                        "display_name": card.display_name,
                        "language": card.language,
                        "fetched_at": now,
                    }
                    for card in chunk
                ]
            )
            excluded = statement.excluded
            statement = statement.on_conflict_do_update(
                index_elements=[_c.person_id],
                set_={
                    "email": excluded.email,
                    "display_name": excluded.display_name,
                    "language": excluded.language,
                    "fetched_at": excluded.fetched_at,
                },
            )
            await self.session.execute(statement)

    async def forget(self, person_ids: Collection[UUID]) -> None:
        if person_ids:
            await self.session.execute(delete(contacts).where(any_of(_c.person_id, person_ids)))
