from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from services.booking.models import COUNTED_PREDICATE, RateWindow, table_of

rate_windows = table_of(RateWindow)
_r = rate_windows.c


def active_bookings_held(person_id: str, now: str, limit: str) -> str:
    """SQL of a person's active bookings (their own confirmed or waitlisted, session not ended), counted up to
    `limit`: the active-bookings limit only asks whether they reach it. One range scan of the partial index
    `ix_bookings_active_person` (its very predicate), no join to the sessions: a booking carries its session's
    end. The arguments are SQL expressions (parameters or columns)."""
    return f"""(SELECT count(*) FROM (
                SELECT FROM booking.bookings
                WHERE person_id = {person_id} AND {COUNTED_PREDICATE} AND session_ends_at > {now}
                LIMIT {limit}) AS held)"""


class RateWindowRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def purge_older_than(self, before: datetime) -> int:
        result = await self.session.execute(
            delete(rate_windows).where(_r.window_started_at < before).returning(_r.person_id)
        )
        return len(result.all())
