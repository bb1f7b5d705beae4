from uuid import UUID

from sqlalchemy import select

from services.catalog.models import Activity, Series, Site
from shared.repository import Repository


class ActivityRepository(Repository[Activity]):
    model = Activity

    async def site_exists(self, site_id: UUID) -> bool:
        return (await self.session.scalar(select(Site.id).where(Site.id == site_id))) is not None

    async def series_exists(self, series_id: UUID) -> bool:
        return (await self.session.scalar(select(Series.id).where(Series.id == series_id))) is not None
