from datetime import datetime, timedelta
from uuid import UUID

from sqlalchemy import BigInteger, DateTime, Uuid, bindparam, delete, text
from sqlalchemy.ext.asyncio import AsyncSession

from services.booking.models import RateWindow, table_of

rate_windows = table_of(RateWindow)
_r = rate_windows.c


# Plain SQL: this runs on every booking request, and SQLAlchemy would rebuild and re-key a Core
# statement each time (the compiled form is cached either way).
# Counts one request of :person_id in its current fixed window (a new one once :window_start has passed
# it). With :lock_id, that advisory lock is tried first and nothing is counted when another transaction
# holds it. The upsert's row lock serializes one person's booking transactions until they commit.
COUNT_REQUEST_SQL = """
    INSERT INTO booking.rate_windows AS r (person_id, window_started_at, requests)
    SELECT :person_id, :now, 1 WHERE :lock_id IS NULL OR pg_try_advisory_xact_lock(:lock_id)
    ON CONFLICT (person_id) DO UPDATE SET
        requests = CASE WHEN r.window_started_at > :window_start THEN r.requests + 1 ELSE 1 END,
        window_started_at = CASE WHEN r.window_started_at > :window_start THEN r.window_started_at ELSE :now END
    RETURNING r.requests, r.window_started_at"""
# The same row locked without counting (a request counted already), after trying :lock_id the same way.
HOLD_REQUEST_SQL = """
    SELECT requests, window_started_at FROM booking.rate_windows
    WHERE person_id = :person_id AND (:lock_id IS NULL OR pg_try_advisory_xact_lock(:lock_id))
    FOR UPDATE"""
COUNT_REQUEST_BINDS = (bindparam("window_start", type_=DateTime(timezone=True)), bindparam("lock_id", type_=BigInteger))
_BINDS = (bindparam("person_id", type_=Uuid), bindparam("now", type_=DateTime(timezone=True)), *COUNT_REQUEST_BINDS)
_COUNT_REQUEST = text(COUNT_REQUEST_SQL).bindparams(*_BINDS)
_HOLD_REQUEST = text(HOLD_REQUEST_SQL).bindparams(bindparam("person_id", type_=Uuid), _BINDS[-1])


class RateWindowRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def count_request(
        self, person_id: UUID, now: datetime, window: timedelta, *, lock_id: int | None = None, count: bool = True
    ) -> tuple[int, datetime] | None:
        """Count one request in the person's current fixed window (one upsert: atomic across replicas), or
        with `count` False only lock the person's row; both after trying the advisory lock `lock_id`.
        Returns the window's requests and start; None when `lock_id` is held by another transaction."""
        params = {"person_id": person_id, "now": now, "window_start": now - window, "lock_id": lock_id}
        row = (await self.session.execute(_COUNT_REQUEST if count else _HOLD_REQUEST, params)).first()
        return (int(row.requests), row.window_started_at) if row else None

    async def purge_older_than(self, before: datetime) -> int:
        result = await self.session.execute(
            delete(rate_windows).where(_r.window_started_at < before).returning(_r.person_id)
        )
        return len(result.all())
