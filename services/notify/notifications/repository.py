"""Notices: one per (person, cause), written with ON CONFLICT DO NOTHING so a redelivered cause, or one
handled by two replicas at once, leaves exactly one."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.notify.models import AnyRow, Notification, table_of
from services.notify.sql import in_chunks
from shared.ids import new_id
from shared.pagination import PageParams
from shared.repository import paginate

notifications = table_of(Notification)
_n = notifications.c


@dataclass(frozen=True, slots=True)
class NewNotice:
    person_id: UUID
    kind: str
    cause: str
    title: str
    body: str
    booking_id: UUID | None
    session_id: UUID | None


class NotificationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, notices: Sequence[NewNotice], now: datetime) -> dict[tuple[UUID, str], UUID]:
        """Store the notices a person has none of for their cause yet; the ids of those stored, by
        (person, cause)."""
        stored: dict[tuple[UUID, str], UUID] = {}
        for chunk in in_chunks(notices):
            statement = (
                insert(notifications)
                .values(
                    [
                        {
                            "id": new_id(),
                            "person_id": notice.person_id,
                            "kind": notice.kind,
                            "cause": notice.cause,
                            "title": notice.title,
                            "body": notice.body,
                            "booking_id": notice.booking_id,
                            "session_id": notice.session_id,
                            "created_at": now,
                        }
                        for notice in chunk
                    ]
                )
                .on_conflict_do_nothing(index_elements=[_n.person_id, _n.cause])
                .returning(_n.person_id, _n.cause, _n.id)
            )
            stored |= {(row.person_id, row.cause): row.id for row in await self.session.execute(statement)}
        return stored

    async def page(self, person_id: UUID, page: PageParams, *, unread: bool) -> tuple[list[AnyRow], str | None]:
        statement = select(notifications).where(_n.person_id == person_id)
        if unread:
            statement = statement.where(_n.read_at.is_(None))
        return await paginate(
            self.session,
            statement,
            keyset=[_n.created_at, _n.id],
            key_of=lambda row: [row.created_at, row.id],
            page=page,
            descending=True,
            scalars=False,
        )

    async def mark_read(self, notification_id: UUID, person_id: UUID, now: datetime) -> AnyRow | None:
        """The notice, read (the first reading's time stays); None unless it is this person's."""
        statement = (
            update(notifications)
            .where(_n.id == notification_id, _n.person_id == person_id)
            .values(read_at=func.coalesce(_n.read_at, now))
            .returning(*notifications.c)
        )
        return (await self.session.execute(statement)).first()

    async def of_person(self, person_id: UUID) -> list[AnyRow]:
        statement = select(notifications).where(_n.person_id == person_id).order_by(_n.created_at, _n.id)
        return list((await self.session.execute(statement)).all())
