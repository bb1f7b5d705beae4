"""Background clean-up: expired idempotency keys and finished rate windows (lazy, in small batches)."""

import asyncio
from contextlib import AbstractAsyncContextManager, nullcontext

import structlog

from services.booking.idempotency.repository import IdempotencyKeyRepository
from services.booking.limits.repository import RateWindowRepository
from services.booking.limits.service import RATE_WINDOW
from shared.db import Database, utcnow
from shared.tasks import running

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


def janitor(database: Database, interval_s: float) -> AbstractAsyncContextManager[None]:
    return running(_run(database, interval_s)) if interval_s > 0 else nullcontext()
