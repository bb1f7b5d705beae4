from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from services.booking.models import RateWindow, table_of

rate_windows = table_of(RateWindow)
_r = rate_windows.c


class RateWindowRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def purge_older_than(self, before: datetime) -> int:
        result = await self.session.execute(
            delete(rate_windows).where(_r.window_started_at < before).returning(_r.person_id)
        )
        return len(result.all())
