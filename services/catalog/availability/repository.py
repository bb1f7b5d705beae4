from uuid import UUID

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from services.catalog.models import ActivitySession, SessionAvailability
from shared.db import utcnow
from shared.events.schemas import AvailabilityChanged
from shared.repository import Repository


class AvailabilityRepository(Repository[SessionAvailability]):
    model = SessionAvailability

    async def session_exists(self, session_id: UUID) -> bool:
        found = await self.session.scalar(select(ActivitySession.id).where(ActivitySession.id == session_id))
        return found is not None

    async def store(self, figures: AvailabilityChanged) -> None:
        """Insert or replace the figures (the inbox has already dropped events older than the stored ones)."""
        values = {
            "capacity": max(0, figures.capacity),
            "confirmed_seats": max(0, figures.confirmed_seats),
            "seats_available": max(0, figures.seats_available),
            "waitlist_length": max(0, figures.waitlist_length),
            "updated_at": utcnow(),
        }
        statement = insert(SessionAvailability).values(session_id=figures.session_id, **values)
        await self.session.execute(
            statement.on_conflict_do_update(index_elements=[SessionAvailability.session_id], set_=values)
        )
