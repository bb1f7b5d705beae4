"""The reminder worker: due reminders claimed with FOR UPDATE SKIP LOCKED and turned into notices in the
same transaction, so a restart loses none (unsent until that commit) and two replicas send none twice
(a claimed row is skipped by the other; the notice's cause is unique besides)."""

from collections.abc import Sequence
from datetime import datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from services.notify.context import NotifyContext
from services.notify.models import AnyRow
from services.notify.notifications.service import Draft, post_notices
from services.notify.projection.repository import HoldingRepository, SessionRepository
from services.notify.projection.service import session_facts
from services.notify.reminders.repository import ReminderRepository
from services.notify.reminders.service import reminder_cause
from shared.db import Database, utcnow

logger = structlog.get_logger(__name__)


class ReminderWorker:
    def __init__(self, database: Database, context: NotifyContext, *, batch_size: int = 100) -> None:
        self._database = database
        self._context = context
        self.batch_size = batch_size

    async def run_once(self) -> int:
        """Send one batch of the reminders due now; returns how many were done."""
        now = utcnow()
        async with self._database.sessionmaker.begin() as db:
            due = await ReminderRepository(db).claim_due(now, self.batch_size)
            if not due:
                return 0
            batch = await db.begin_nested()
            try:
                await self._remind(db, due, now)
            except Exception as exc:  # noqa: BLE001 - retried one by one below
                await batch.rollback()
                logger.warning("reminder_batch_failed", reminders=len(due), error=repr(exc))
            else:
                await batch.commit()
                return len(due)
            # One at a time: a reminder that cannot be sent now (orgs down, its person's contact unknown)
            # stays due for the next round, and the others still go.
            done = 0
            for reminder in due:
                one = await db.begin_nested()
                try:
                    await self._remind(db, [reminder], now)
                except Exception as exc:  # noqa: BLE001 - retried next round
                    await one.rollback()
                    logger.warning("reminder_failed", booking_id=str(reminder.booking_id), error=repr(exc))
                    continue
                await one.commit()
                done += 1
            return done

    async def _remind(self, db: AsyncSession, reminders: Sequence[AnyRow], now: datetime) -> None:
        holdings = await HoldingRepository(db).get_many({reminder.booking_id for reminder in reminders})
        sessions = await SessionRepository(db).get_many({reminder.session_id for reminder in reminders})
        drafts: list[Draft] = []
        for reminder in reminders:
            holding, session = holdings.get(reminder.booking_id), sessions.get(reminder.session_id)
            # A reminder of a cancelled booking or of a session already begun says nothing (and is done).
            if holding is None or holding.status != "confirmed" or session is None:
                continue
            if session.status != "scheduled" or session.starts_at <= now:
                continue
            drafts.append(
                Draft(
                    person_id=holding.person_id,
                    kind="reminder",
                    cause=reminder_cause(holding.booking_id, reminder.minutes_before, session.starts_at),
                    session=session_facts(session),
                    booking_id=holding.booking_id,
                    seats=holding.seats,
                    checkin_code=holding.checkin_code,
                    minutes_before=reminder.minutes_before,
                )
            )
        await post_notices(db, self._context, drafts)
        await ReminderRepository(db).mark_sent([(r.booking_id, r.minutes_before) for r in reminders], now)
