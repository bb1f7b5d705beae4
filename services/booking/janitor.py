"""Background clean-up: expired idempotency keys and finished rate windows (lazy, in small batches)."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog

from services.booking.idempotency.repository import IdempotencyKeyRepository
from services.booking.limits.repository import RateWindowRepository
from services.booking.limits.service import RATE_WINDOW
from shared.db import Database, utcnow

logger = structlog.get_logger(__name__)


async def purge_once(database: Database) -> tuple[int, int]:
    """Delete what no request can use any more; returns (keys, rate windows) deleted."""
    now = utcnow()
    async with database.separate_transaction() as session:
        keys = await IdempotencyKeyRepository(session).purge_expired(now)
        windows = await RateWindowRepository(session).purge_older_than(now - RATE_WINDOW)
    return keys, windows


async def _run(database: Database, interval_s: float) -> None:
    while True:
        await asyncio.sleep(interval_s)
        try:
            keys, windows = await purge_once(database)
            if keys or windows:
                logger.info("janitor_purged", idempotency_keys=keys, rate_windows=windows)
        except Exception as exc:  # noqa: BLE001 - retried at the next interval
            logger.warning("janitor_failed", error=repr(exc))


@asynccontextmanager
async def janitor(database: Database, interval_s: float) -> AsyncIterator[None]:
    task = asyncio.create_task(_run(database, interval_s), name="booking-janitor") if interval_s > 0 else None
    try:
        yield
    finally:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
