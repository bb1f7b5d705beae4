"""The no-show sweep in the background: every `BOOKING_NO_SHOW_SWEEP_INTERVAL_S` on every replica (0: off)."""

import asyncio
from contextlib import AbstractAsyncContextManager, nullcontext
from datetime import datetime, timedelta

import structlog

from services.booking.attendance.service import NoShowSweep
from shared.db import utcnow
from shared.tasks import running

logger = structlog.get_logger(__name__)

# How far back a round looks before the previous round's cutoff: a booking that round skipped (another
# transaction held it, then rolled back) is still found. Nothing else can end before a cutoff after it has
# passed: the catalog never moves a session that has started, nor into the past.
RESWEEP_OVERLAP = timedelta(hours=1)


async def _run(sweep: NoShowSweep, interval_s: float) -> None:
    # The first round looks back over the whole window (whatever ended while no process swept).
    ended_after: datetime | None = None
    while True:
        await asyncio.sleep(interval_s)
        now = utcnow()
        try:
            outcome = await sweep.run_once(now, ended_after=ended_after)
        except Exception as exc:  # noqa: BLE001 - retried at the next interval, from the same point
            logger.warning("no_show_sweep_failed", error=repr(exc))
            continue
        ended_after = sweep.cutoff(now) - RESWEEP_OVERLAP
        if outcome.marked or outcome.lapsed:
            logger.info("no_shows_swept", marked=outcome.marked, lapsed_restrictions=outcome.lapsed)


def no_show_sweeper(sweep: NoShowSweep, interval_s: float) -> AbstractAsyncContextManager[None]:
    return running(_run(sweep, interval_s)) if interval_s > 0 else nullcontext()
