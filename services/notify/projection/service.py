"""Sessions as notices tell them: from the projection, which a miss fills from the catalog."""

from collections.abc import Collection
from typing import Literal
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from services.notify.context import NotifyContext
from services.notify.messages import SessionFacts
from services.notify.models import AnyRow
from services.notify.peers import ask_each
from services.notify.projection.repository import SessionRepository
from shared.db import utcnow
from shared.events.schemas import SessionSnapshot


async def known_sessions(db: AsyncSession, context: NotifyContext, session_ids: Collection[UUID]) -> dict[UUID, AnyRow]:
    """The projected sessions; those whose events have not come yet are asked of the catalog (side by
    side) and stored. NotFound or ServiceUnavailable from the catalog propagate: the events are delivered
    again later."""
    repository = SessionRepository(db)
    known = await repository.get_many(session_ids)
    missing = [session_id for session_id in session_ids if session_id not in known]
    if missing:
        snapshots = await ask_each(missing, context.peers.session)
        await repository.insert_if_absent(snapshots, utcnow())
        known |= await repository.get_many(missing)
    return known


def session_facts(row: AnyRow, *, status: Literal["scheduled", "cancelled"] | None = None) -> SessionFacts:
    return SessionFacts(
        session_id=row.session_id,
        title=row.title,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        place_name=row.place_name,
        address=row.address,
        lat=row.lat,
        lon=row.lon,
        sequence=row.sequence,
        status=status or row.status,
    )


def moved(row: AnyRow, snapshot: SessionSnapshot) -> bool:
    """Whether the session's time or place differs from what the projection holds."""
    place = snapshot.place
    return (row.starts_at, row.ends_at, row.site_id, row.address) != (
        snapshot.starts_at,
        snapshot.ends_at,
        snapshot.site_id,
        place.address if place else None,
    )
