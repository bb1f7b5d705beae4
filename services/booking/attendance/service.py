"""Attendance: a confirmed seat nobody checked in by the session's end plus `BOOKING_NO_SHOW_GRACE_S` becomes
`no_show` (never credited to a learning record), and too many no-shows within the window lower the person's
active-bookings limit for a while (the fairness rule: seats should go to people who come)."""

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncSession

from services.booking.attendance.repository import AttendanceRepository
from services.booking.attendance.schemas import Standing
from services.booking.publishing import bookings_changed
from services.booking.settings import BookingSettings
from shared.db import Database, utcnow
from shared.events.outbox import Outbox

# Bookings marked per transaction: row locks and the outbox rows stay small, and a replica that stops
# mid-sweep leaves the rest to the next one.
SWEEP_BATCH = 200


@dataclass(frozen=True, slots=True)
class SweepOutcome:
    marked: int  # bookings that became no-shows
    lapsed: int  # restrictions whose time was up, deleted


@dataclass(frozen=True, slots=True)
class NoShowSweep:
    """Marks no-shows, in batches, each batch one transaction: the status change, its `booking.no_show`
    events and the affected people's restrictions commit together. Safe to run on every replica at once."""

    database: Database
    outbox: Outbox
    entered: Counter  # learncity_bookings_total{status}
    settings: BookingSettings

    async def run_once(
        self, now: datetime | None = None, *, ended_after: datetime | None = None, batch_size: int = SWEEP_BATCH
    ) -> SweepOutcome:
        """Mark every booking due at `now` (default: the current time) whose session ended after
        `ended_after` (default: the window's start; an older no-show would count for nobody)."""
        now = now or utcnow()
        ended_after = ended_after or now - self.settings.no_show_window
        marked = 0
        while True:
            async with self.database.unit_of_work() as session:
                locked, marked_now = await self._sweep_batch(session, ended_after, now, batch_size)
            marked += marked_now
            if locked < batch_size:
                break
        async with self.database.unit_of_work() as session:
            lapsed = await AttendanceRepository(session).purge_lapsed(now)
        return SweepOutcome(marked=marked, lapsed=lapsed)

    def cutoff(self, now: datetime) -> datetime:
        """Sessions that ended before this are past their grace at `now`."""
        return now - self.settings.no_show_grace

    async def _sweep_batch(
        self, session: AsyncSession, ended_after: datetime, now: datetime, batch_size: int
    ) -> tuple[int, int]:
        """(bookings locked, bookings marked): a check-in that won the race leaves its booking unmarked."""
        repository = AttendanceRepository(session)
        due = await repository.lock_due(ended_after, self.cutoff(now), batch_size)
        if not due:
            return 0, 0
        missed = await repository.mark_no_show(due)
        await bookings_changed(session, self.outbox, missed, self.entered, "no_show")
        await update_restrictions(repository, {row.person_id for row in missed}, now, self.settings)
        return len(due), len(missed)


async def update_restrictions(
    repository: AttendanceRepository, person_ids: Collection[UUID], now: datetime, settings: BookingSettings
) -> None:
    """Recompute these people's restrictions: `no_show_threshold` or more no-shows whose sessions ended
    within the window restrict them to `no_show_max_active` active bookings until the threshold-th newest
    of them leaves the window; fewer lift any restriction."""
    if not person_ids:
        return
    await repository.lock_restrictions_of(person_ids)
    ends = await repository.no_show_ends(person_ids, since=now - settings.no_show_window)
    threshold = settings.no_show_threshold
    restricted = [
        {
            "person_id": person_id,
            "max_active": settings.no_show_max_active,
            "no_shows": len(missed),
            "restricted_until": missed[threshold - 1] + settings.no_show_window,
            "updated_at": now,
        }
        for person_id, missed in ends.items()
        if len(missed) >= threshold
    ]
    if restricted:
        await repository.restrict(restricted)
    await repository.lift({person_id for person_id, missed in ends.items() if len(missed) < threshold})


async def standing(session: AsyncSession, person_id: UUID, settings: BookingSettings) -> Standing:
    now = utcnow()
    repository = AttendanceRepository(session)
    no_shows = await repository.no_shows_since(person_id, now - settings.no_show_window)
    restriction = await repository.restriction(person_id, now)
    limit = settings.max_active_per_person
    return Standing(
        no_shows=no_shows,
        window_days=settings.no_show_window_days,
        threshold=settings.no_show_threshold,
        max_active_bookings=min(limit, restriction.max_active) if restriction else limit,
        restricted_until=restriction.restricted_until if restriction else None,
    )
