"""Tallies of finished sessions: their participation figures summed once, so a report over a year of a city
reads one row per session instead of every booking and check-in.

A session is tallied once it has ended and none of its bookings can change by itself any more: no confirmed
seat is left that the no-show sweep has still to mark (own bookings and member lines not checked in). After
that, what changes its bookings also changes its `inventory` row (a cancellation by its host, an erasure
freeing a seat: both move its seat figures and `updated_at`), and a tally is only read while its
`session_updated_at` equals the row's `updated_at`; a stale one is tallied again. Reports compute the
figures of sessions without a valid tally live."""

import asyncio
from contextlib import AbstractAsyncContextManager, nullcontext
from datetime import datetime

import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.booking.participation.figures import BOOKING_FIGURES, CHECKIN_FIGURES
from shared.db import Database, utcnow
from shared.tasks import running

logger = structlog.get_logger(__name__)

BATCH = 2000

_TALLY = text(
    f"""
    WITH due AS (
        SELECT i.session_id, i.updated_at
        FROM booking.inventory AS i
        LEFT JOIN booking.session_tallies AS t ON t.session_id = i.session_id
        WHERE i.ends_at < :now
            AND (t.session_id IS NULL OR t.session_updated_at <> i.updated_at)
            AND NOT EXISTS (
                SELECT FROM booking.bookings AS b
                WHERE b.session_id = i.session_id AND b.status = 'confirmed' AND i.status = 'scheduled'
                    AND (b.organization_id IS NULL OR b.block_id IS NOT NULL)
                    AND NOT EXISTS (SELECT FROM booking.checkins AS c WHERE c.booking_id = b.id)
            )
        ORDER BY i.ends_at, i.session_id
        LIMIT :limit
    )
    INSERT INTO booking.session_tallies AS t
        (session_id, session_updated_at, bookings, seats, no_shows, checkins, minutes, tallied_at)
    SELECT due.session_id, due.updated_at, h.bookings, h.seats, h.no_shows, a.checkins, a.minutes, :now
    FROM due
    CROSS JOIN LATERAL ({BOOKING_FIGURES.format(session="due.session_id")}) AS h
    CROSS JOIN LATERAL ({CHECKIN_FIGURES.format(session="due.session_id")}) AS a
    ON CONFLICT (session_id) DO UPDATE SET
        session_updated_at = excluded.session_updated_at, bookings = excluded.bookings, seats = excluded.seats,
        no_shows = excluded.no_shows, checkins = excluded.checkins, minutes = excluded.minutes,
        tallied_at = excluded.tallied_at
    """
)


async def tally_batch(session: AsyncSession, now: datetime, limit: int = BATCH) -> int:
    """Tally up to `limit` finished sessions without a valid tally (oldest first); returns how many.

    One statement, so the figures and the `updated_at` stored with them are of one snapshot: a change
    committed meanwhile moves `updated_at` past the stored one, and the session is tallied again later."""
    result = await session.execute(_TALLY, {"now": now, "limit": limit})
    return int(getattr(result, "rowcount", 0) or 0)


async def tally_all(database: Database) -> int:
    """Tally every finished session that needs it, a batch per transaction; returns how many."""
    total = 0
    while True:
        async with database.sessionmaker.begin() as session:
            done = await tally_batch(session, utcnow())
        total += done
        if done < BATCH:
            return total


async def _run(database: Database, interval_s: float) -> None:
    while True:
        try:
            tallied = await tally_all(database)
            if tallied:
                logger.info("sessions_tallied", sessions=tallied)
        except Exception as exc:  # noqa: BLE001 - retried at the next interval
            logger.warning("tally_failed", error=repr(exc))
        await asyncio.sleep(interval_s)


def tallier(database: Database, interval_s: float) -> AbstractAsyncContextManager[None]:
    """Tallies finished sessions every `interval_s` (0: never; reports then compute every figure live)."""
    return running(_run(database, interval_s)) if interval_s > 0 else nullcontext()
