from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from sqlalchemy import select, update

from services.catalog.models import ActivitySession, SessionAvailability
from shared.repository import Repository


class ActivitySessionRepository(Repository[ActivitySession]):
    model = ActivitySession

    async def add_many(self, sessions: Sequence[ActivitySession]) -> list[ActivitySession]:
        self.session.add_all(sessions)
        await self.session.flush()
        return list(sessions)

    async def figures(self, session_id: UUID) -> SessionAvailability | None:
        return await self.session.get(SessionAvailability, session_id)

    async def figures_of(self, session_ids: Sequence[UUID]) -> dict[UUID, SessionAvailability]:
        if not session_ids:
            return {}
        rows = await self.session.scalars(
            select(SessionAvailability).where(SessionAvailability.session_id.in_(session_ids))
        )
        return {row.session_id: row for row in rows}

    async def upcoming_of_activity(
        self, activity_id: UUID, *, after: datetime, site_id: UUID | None
    ) -> list[ActivitySession]:
        """Scheduled sessions of an activity that have not started, moved to `site_id`, locked for update."""
        result = await self.session.scalars(
            update(ActivitySession)
            .where(
                ActivitySession.activity_id == activity_id,
                ActivitySession.status == "scheduled",
                ActivitySession.starts_at > after,
            )
            .values(site_id=site_id)
            .returning(ActivitySession)
            .execution_options(populate_existing=True)
        )
        return sorted(result.all(), key=lambda s: (s.starts_at, s.id))

    async def with_existing_ids(self, session_ids: Sequence[UUID]) -> set[UUID]:
        rows = await self.session.scalars(select(ActivitySession.id).where(ActivitySession.id.in_(session_ids)))
        return set(rows)
