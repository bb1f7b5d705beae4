"""The mail queue: a row per mail (a notice's, or an invitation's), leased by a worker before it is sent (no
lock is held over SMTP)."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from pydantic import TypeAdapter
from sqlalchemy import DateTime, Integer, bindparam, case, func, null, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.notify.mailer import OutgoingMail
from services.notify.messages import NoticeFacts, RenderedNotice, notice_attachments
from services.notify.models import AnyRow, Mail, table_of
from services.notify.sql import in_chunks
from shared.ids import new_id

mails = table_of(Mail)
_m = mails.c
# NOTIFY'd in the transaction that queues a mail: the mail worker wakes when it commits.
MAIL_CHANNEL = "learncity_notify_mail"
_facts = TypeAdapter(NoticeFacts)
# What an invitation's mail stops keeping once it is sent or given up: its link holds the invitee's token.
_FORGOTTEN_WHEN_DONE = ("to_address", "subject", "text_body", "html_body")
_INVITEE = "<invitee>"


def outgoing(row: AnyRow, timezone: ZoneInfo) -> OutgoingMail:
    """The mail as it is sent: the stored words, and the attachments its notice's facts make (an
    invitation's mail has none)."""
    return OutgoingMail(
        to=row.to_address,
        to_name=row.to_name,
        subject=row.subject,
        text=row.text_body,
        html=row.html_body,
        attachments=() if row.facts is None else notice_attachments(_facts.validate_python(row.facts), timezone),
    )


def _done(error: str | None) -> dict[str, Any]:
    """The values of a mail that is sent (no error) or given up. An invitation's mail forgets its address and
    words, and its error keeps no address (SMTP replies often quote it)."""
    invitation = _m.invitation_id.is_not(None)
    values: dict[str, Any] = {column: case((invitation, null()), else_=_m[column]) for column in _FORGOTTEN_WHEN_DONE}
    values["last_error"] = (
        None if error is None else case((invitation, func.replace(error, _m.to_address, _INVITEE)), else_=error)
    )
    return values


@dataclass(frozen=True, slots=True)
class NewMail:
    notification_id: UUID
    person_id: UUID
    to: str
    to_name: str | None
    rendered: RenderedNotice
    facts: NoticeFacts


@dataclass(frozen=True, slots=True)
class InvitationMail:
    invitation_id: UUID
    to: str
    rendered: RenderedNotice


class MailRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._lease = (
            text(
                f"""WITH due AS (
                    SELECT id FROM {mails.fullname}
                    WHERE status = 'pending' AND next_attempt_at <= :now
                    ORDER BY next_attempt_at, id
                    LIMIT :limit
                    FOR UPDATE SKIP LOCKED
                )
                UPDATE {mails.fullname} AS m SET next_attempt_at = :lease_until, attempts = m.attempts + 1
                FROM due WHERE m.id = due.id
                RETURNING m.*"""
            )
            .bindparams(
                bindparam("now", type_=DateTime(timezone=True)),
                bindparam("lease_until", type_=DateTime(timezone=True)),
                bindparam("limit", type_=Integer),
            )
            .columns(*mails.c)
        )

    async def enqueue(self, mails_to_send: Sequence[NewMail], now: datetime) -> None:
        if not mails_to_send:
            return
        for chunk in in_chunks(mails_to_send):
            await self.session.execute(
                insert(mails).values(
                    [
                        {
                            "id": new_id(),
                            "notification_id": mail.notification_id,
                            "person_id": mail.person_id,
                            "to_address": mail.to,
                            "to_name": mail.to_name,
                            "subject": mail.rendered.title,
                            "text_body": mail.rendered.body,
                            "html_body": mail.rendered.html,
                            "facts": _facts.dump_python(mail.facts, mode="json"),
                            "created_at": now,
                            "next_attempt_at": now,
                        }
                        for mail in chunk
                    ]
                )
            )
        await self._wake_worker()

    async def enqueue_invitation(self, mail: InvitationMail, now: datetime) -> None:
        """Queue an invitation's mail unless one was queued for it before (a redelivered or re-emitted
        event, or two replicas at once: the UNIQUE invitation_id keeps one)."""
        statement = (
            insert(mails)
            .values(
                id=new_id(),
                invitation_id=mail.invitation_id,
                to_address=mail.to,
                subject=mail.rendered.title,
                text_body=mail.rendered.body,
                html_body=mail.rendered.html,
                created_at=now,
                next_attempt_at=now,
            )
            .on_conflict_do_nothing(index_elements=[_m.invitation_id])
            .returning(_m.id)
        )
        if (await self.session.execute(statement)).first() is not None:
            await self._wake_worker()

    async def _wake_worker(self) -> None:
        await self.session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": MAIL_CHANNEL})

    async def lease_due(self, now: datetime, *, lease_until: datetime, limit: int) -> list[AnyRow]:
        """Due pending mails, each charged an attempt and hidden from other workers until `lease_until`
        (if this worker dies mid-send, another sends it after that)."""
        result = await self.session.execute(self._lease, {"now": now, "lease_until": lease_until, "limit": limit})
        return list(result.all())

    async def mark_sent(self, mail_id: UUID, now: datetime) -> None:
        await self.session.execute(
            update(mails).where(_m.id == mail_id).values(status="sent", sent_at=now, **_done(None))
        )

    async def mark_failed_attempt(self, mail_id: UUID, attempts: int, *, error: str, retry_at: datetime | None) -> None:
        """Another try at `retry_at`, or given up (None). Only while the row is still this attempt's."""
        error = error[:1000]
        values: dict[str, Any] = (
            {"last_error": error, "next_attempt_at": retry_at}
            if retry_at is not None
            else {"status": "failed", **_done(error)}
        )
        await self.session.execute(
            update(mails).where(_m.id == mail_id, _m.attempts == attempts, _m.status == "pending").values(**values)
        )
