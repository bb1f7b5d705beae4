"""The mail worker: leases due mails (commits the lease before sending: no lock is held over SMTP), sends
each on its own (one slow or failing address never holds up the others), and records the outcome:
sent; a temporary failure tried again after a capped exponential backoff, up to `mail_max_attempts`; a
permanent one (or the last attempt) failed for good."""

import asyncio
import random
import time
from datetime import timedelta

import structlog

from services.notify.mail_queue.repository import MailRepository, outgoing
from services.notify.mailer import MailDeferred, MailRejected, SmtpMailer
from services.notify.models import AnyRow
from services.notify.settings import NotifySettings
from shared.db import Database, utcnow

logger = structlog.get_logger(__name__)

# Mails sent at once by one worker (each its own SMTP connection).
_CONCURRENT_SENDS = 10
# A lease outlasts every step of a send (connect, TLS, login, data, quit), each bounded by the timeout.
_LEASE_TIMEOUTS = 6


def retry_delay(attempts: int, settings: NotifySettings) -> timedelta:
    """Capped exponential backoff with jitter (half to all of the ceiling)."""
    ceiling = min(settings.mail_backoff_cap_s, settings.mail_backoff_base_s * 2 ** (attempts - 1))
    return timedelta(seconds=random.uniform(ceiling / 2, ceiling))  # noqa: S311 - jitter, not security


class MailQueue:
    def __init__(self, database: Database, settings: NotifySettings, *, batch_size: int = 50) -> None:
        self._database = database
        self._settings = settings
        self._zone = settings.zone
        self._mailer = (
            SmtpMailer(settings.smtp_url, sender=settings.mail_from, timeout_s=settings.smtp_timeout_s)
            if settings.mail_enabled
            else None
        )
        self._lease = timedelta(seconds=_LEASE_TIMEOUTS * settings.smtp_timeout_s)
        self._sending = asyncio.Semaphore(_CONCURRENT_SENDS)
        self.batch_size = max(1, min(batch_size, int(settings.mail_per_second)))
        # A full batch takes at least this long: the `mail_per_second` pace.
        self._batch_s = self.batch_size / settings.mail_per_second

    async def run_once(self) -> int:
        """Send one batch of due mails; returns how many were tried."""
        if self._mailer is None:
            return 0
        started = time.monotonic()
        now = utcnow()
        async with self._database.sessionmaker.begin() as db:
            leased = await MailRepository(db).lease_due(now, lease_until=now + self._lease, limit=self.batch_size)
        await asyncio.gather(*(self._deliver(self._mailer, row) for row in leased))
        if len(leased) == self.batch_size:  # a backlog: the next batch waits its turn
            await asyncio.sleep(max(0.0, started + self._batch_s - time.monotonic()))
        return len(leased)

    async def _deliver(self, mailer: SmtpMailer, row: AnyRow) -> None:
        async with self._sending:
            error: str | None = None
            permanent = False
            try:
                # Attachments take milliseconds of CPU (QR image, calendar zone rules): made in a thread,
                # the event loop keeps serving requests meanwhile.
                await mailer.send(await asyncio.to_thread(outgoing, row, self._zone))
            except MailRejected as exc:
                error, permanent = f"rejected: {exc}", True
            except MailDeferred as exc:
                error = f"deferred: {exc}"
            except Exception as exc:  # noqa: BLE001 - an unforeseen failure is tried again like a deferral
                error = f"{type(exc).__name__}: {exc}"
        try:
            async with self._database.sessionmaker.begin() as db:
                mails = MailRepository(db)
                if error is None:
                    await mails.mark_sent(row.id, utcnow())
                    return
                given_up = permanent or row.attempts >= self._settings.mail_max_attempts
                retry_at = None if given_up else utcnow() + retry_delay(row.attempts, self._settings)
                await mails.mark_failed_attempt(row.id, row.attempts, error=error, retry_at=retry_at)
            (logger.error if given_up else logger.warning)(
                "mail_failed", mail_id=str(row.id), attempts=row.attempts, given_up=given_up, error=error
            )
        except Exception as exc:  # noqa: BLE001 - the lease runs out and the mail is tried again
            logger.warning("mail_outcome_not_recorded", mail_id=str(row.id), error=repr(exc))
