from datetime import datetime
from uuid import UUID

from sqlalchemy import exists, select

from services.catalog.models import Activity, ActivitySession, Series, Site
from shared.repository import Repository


class ActivityRepository(Repository[Activity]):
    model = Activity

    async def site_exists(self, site_id: UUID) -> bool:
        return (await self.session.scalar(select(Site.id).where(Site.id == site_id))) is not None

    async def series_exists(self, series_id: UUID) -> bool:
        return (await self.session.scalar(select(Series.id).where(Series.id == series_id))) is not None

    async def has_sessions_not_ended(self, activity_id: UUID, *, now: datetime) -> bool:
        """Whether any scheduled session of the activity is upcoming or under way."""
        found = await self.session.scalar(
            select(
                exists().where(
                    ActivitySession.activity_id == activity_id,
                    ActivitySession.status == "scheduled",
                    ActivitySession.ends_at > now,
                )
            )
        )
        return bool(found)
